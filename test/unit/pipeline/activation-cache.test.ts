// The activation cache: least recently used goes first, no link holds more than its byte cap,
// the sender picks delta only for a cached key of the same shape, and a sender's and a
// receiver's caches stay bit-identical over many microbatches, evictions and shape changes.
import { describe, expect, it } from 'vitest';
import { ActivationCache, type ActivationKey } from '../../../kernels/pipeline/activation-cache.ts';
import { encodeActivationsReference } from '../../../kernels/reference/activation-codec.ts';
import {
  type ActivationCodec,
  type ActivationDirection,
  type ActivationFrame,
  decodeActivationFrame,
  encodeActivationFrame,
  isDeltaCodec,
} from '../../../protocol/activation-frame.ts';
import { createRng, type Rng } from '../../../protocol/rng.ts';
import { CODE_BITS, type CodeBits } from '../../../protocol/signed-codes.ts';

const BLOCK_SIZE = 64;

function frameFor(
  key: ActivationKey,
  values: Float32Array,
  width: number,
  codec: ActivationCodec,
  cached: Float32Array | null,
): ActivationFrame {
  return {
    direction: key.direction,
    codec,
    round: 0,
    microbatch: 0,
    boundary: key.boundary,
    sampleIdBase: key.sampleId,
    rows: values.length / width,
    width,
    blockSize: BLOCK_SIZE,
    ...encodeActivationsReference(values, codec, BLOCK_SIZE, cached ?? undefined),
  };
}

/** Sends `values` the way a stage does: choose, encode, keep what the receiver will decode. */
function send(
  cache: ActivationCache,
  key: ActivationKey,
  values: Float32Array,
  width: number,
  bits: CodeBits,
) {
  const choice = cache.codecFor(key, values.length, bits);
  const frame = frameFor(key, values, width, choice.codec, choice.cached);
  const kept = cache.accept(frame);
  if (!kept.ok) throw new Error(kept.error.message);
  return { bytes: encodeActivationFrame(frame), codec: choice.codec, decoded: kept.value };
}

function receive(cache: ActivationCache, bytes: Uint8Array): Float32Array {
  const frame = decodeActivationFrame(bytes);
  if (!frame.ok) throw new Error(frame.error.message);
  const decoded = cache.accept(frame.value);
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.value;
}

function ones(n: number, value = 1): Float32Array {
  return new Float32Array(n).fill(value);
}

function bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

describe('activation cache', () => {
  const forward = (sampleId: number, boundary = 0): ActivationKey => ({
    boundary,
    direction: 'forward',
    sampleId,
  });

  it('evicts the least recently used entry first', () => {
    const cache = new ActivationCache(3 * 64 * 4); // three 64-value tensors
    for (const id of [1, 2, 3]) send(cache, forward(id), ones(64, id), 64, 8);
    expect(cache.sampleIds(0, 'forward')).toEqual([1, 2, 3]);
    // Choosing a codec only peeks; accepting a frame for 1 makes it the most recent.
    expect(cache.codecFor(forward(1), 64, 8).codec).toBe('delta-int8');
    expect(cache.sampleIds(0, 'forward')).toEqual([1, 2, 3]);
    expect(send(cache, forward(1), ones(64, 1.5), 64, 8).codec).toBe('delta-int8');
    expect(cache.sampleIds(0, 'forward')).toEqual([2, 3, 1]);
    send(cache, forward(4), ones(64, 4), 64, 8);
    expect(cache.sampleIds(0, 'forward')).toEqual([3, 1, 4]);
    expect(cache.bytes).toBe(3 * 64 * 4);
    expect(cache.codecFor(forward(2), 64, 8)).toEqual({ codec: 'int8', cached: null });
  });

  it('never holds more than its byte cap per link, and skips a tensor larger than the cap', () => {
    const cap = 1000;
    const cache = new ActivationCache(cap);
    const rng = createRng(1);
    for (let i = 0; i < 200; i++) {
      const width = 32 * (1 + rng.nextBelow(4));
      send(cache, forward(rng.nextBelow(20)), ones(width * (1 + rng.nextBelow(3))), width, 4);
      expect(cache.bytes).toBeLessThanOrEqual(cap);
    }
    send(cache, forward(99), ones(251), 251, 8); // 1004 bytes
    expect(cache.peek(forward(99))).toBeUndefined();
    expect(cache.bytes).toBeLessThanOrEqual(cap);
  });

  it('keeps each link to its own cap and order', () => {
    const cache = new ActivationCache(2 * 32 * 4);
    const backward: ActivationKey = { boundary: 0, direction: 'backward', sampleId: 1 };
    send(cache, backward, ones(32), 32, 8);
    send(cache, forward(1, 1), ones(32), 32, 8);
    for (const id of [1, 2, 3, 4]) send(cache, forward(id), ones(32), 32, 8);
    expect(cache.sampleIds(0, 'forward')).toEqual([3, 4]);
    expect(cache.sampleIds(0, 'backward')).toEqual([1]);
    expect(cache.sampleIds(1, 'forward')).toEqual([1]);
    expect(cache.size).toBe(4);
  });

  it('sends plain when the shape changed, and drops a key whose delta has no base', () => {
    const cache = new ActivationCache(1 << 20);
    send(cache, forward(7), ones(128), 64, 8);
    expect(cache.codecFor(forward(7), 64, 4)).toEqual({ codec: 'int4', cached: null });
    expect(cache.codecFor(forward(7), 128, 4).codec).toBe('delta-int4');
    const orphan = frameFor(forward(8), ones(64), 64, 'delta-int8', ones(64, 0));
    expect(cache.accept(orphan)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_NO_CACHE' } });
    const misshapen = frameFor(forward(7), ones(64), 64, 'delta-int8', ones(64, 0));
    expect(cache.accept(misshapen)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_NO_CACHE' } });
    expect(cache.peek(forward(7))).toBeUndefined();
  });

  it('keeps sender and receiver bit-identical over many microbatches', () => {
    // Peer A runs stage 0 and peer B stage 1: activations go A → B, their gradients B → A, and
    // B also sends to a stage 2 that A never sees. Each peer keeps one cache for all its links.
    // 24 samples in microbatches of 2 sequences, 12 epochs in shuffled order; each link holds 8
    // microbatches, so most come back evicted and some come back cached; the last microbatch of
    // an epoch is sometimes one sequence short, so a key changes shape now and then.
    const [T, C] = [8, 96];
    const cap = 8 * 2 * T * C * 4;
    const a = new ActivationCache(cap);
    const b = new ActivationCache(cap);
    const c = new ActivationCache(cap);
    const rng = createRng(2024);
    const state = new Map<string, Float32Array>();
    /** The tensor for a sample, moved a little since it was last seen, as training moves it. */
    const tensor = (link: string, id: number, rows: number, rng: Rng) => {
      const name = `${link}:${id}:${rows}`;
      const previous = state.get(name);
      const next = previous
        ? previous.map((v) => v + 0.01 * rng.nextNormal())
        : Float32Array.from({ length: rows * C }, (_, j) => rng.nextNormal() * (j % C === 5 ? 30 : 1));
      state.set(name, next);
      return next;
    };
    const counts = new Map<ActivationCodec, number>();
    const link = (
      from: ActivationCache,
      to: ActivationCache,
      key: ActivationKey,
      values: Float32Array,
      b: CodeBits,
    ) => {
      const sent = send(from, key, values, C, b);
      counts.set(sent.codec, (counts.get(sent.codec) ?? 0) + 1);
      const got = receive(to, sent.bytes);
      expect(bits(got)).toEqual(bits(sent.decoded));
    };
    let microbatches = 0;
    for (let epoch = 0; epoch < 12; epoch++) {
      const order = Array.from({ length: 12 }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.nextBelow(i + 1);
        [order[i], order[j]] = [order[j] as number, order[i] as number];
      }
      for (const [position, m] of order.entries()) {
        const sampleId = 2 * m;
        const rows = T * (position === order.length - 1 && rng.nextBelow(2) ? 1 : 2);
        const key = (boundary: number, direction: ActivationDirection) => ({ boundary, direction, sampleId });
        link(a, b, key(0, 'forward'), tensor('a>b', sampleId, rows, rng), 2);
        link(b, c, key(1, 'forward'), tensor('b>c', sampleId, rows, rng), 3);
        link(b, a, key(0, 'backward'), tensor('b<a', sampleId, rows, rng), 4);
        microbatches++;
      }
    }
    for (const [x, y, boundary, direction] of [
      [a, b, 0, 'forward'],
      [b, a, 0, 'backward'],
      [b, c, 1, 'forward'],
    ] as const) {
      const ids = x.sampleIds(boundary, direction);
      expect(ids.length).toBeGreaterThan(0);
      expect(y.sampleIds(boundary, direction)).toEqual(ids);
      for (const sampleId of ids) {
        const key = { boundary, direction, sampleId };
        expect(bits(y.peek(key) as Float32Array)).toEqual(bits(x.peek(key) as Float32Array));
      }
    }
    const summary = [...counts].map(([codec, n]) => `${codec} ${n}`).join(', ');
    console.log(
      `${microbatches} microbatches on 3 links: ${summary}; caches hold ${a.bytes} / ${b.bytes} bytes`,
    );
    expect([...counts.keys()].filter(isDeltaCodec).length).toBe(3);
    expect(counts.get('int2')).toBeGreaterThan(0);
  });

  it('loses nothing over many rounds: each delta carries the error the last one left', () => {
    // A sample's activation (64 rows of 96, an outlier channel) crosses again every epoch. Both
    // caches hold the decoded tensor, so a round's rounding error is part of the next round's
    // delta, not lost: once the sample stops changing, each round at least halves what is left
    // (the error is at most half a step, and a step is the largest error left / L), down to the
    // f32 rounding of cached + delta. While it keeps changing, the error stays within half a step
    // of the change plus the error before, so it never builds up.
    const [rows, width] = [64, 96];
    for (const b of CODE_BITS) {
      const sender = new ActivationCache(1 << 24);
      const receiver = new ActivationCache(1 << 24);
      const rng = createRng(b);
      let x = Float32Array.from(
        { length: rows * width },
        (_, j) => rng.nextNormal() * (j % width === 5 ? 30 : 1),
      );
      const largest = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const error = () => {
        const got = receiver.peek(forward(0)) as Float32Array;
        return got.reduce((m, v, j) => Math.max(m, Math.abs(v - (x[j] as number))), 0);
      };
      const round = () => {
        const sent = send(sender, forward(0), x, width, b);
        expect(bits(receive(receiver, sent.bytes))).toEqual(bits(sent.decoded));
      };
      const drifting: number[] = [];
      for (let epoch = 0; epoch < 10; epoch++) {
        x = x.map((v) => v + 0.01 * rng.nextNormal());
        round();
        drifting.push(error());
      }
      const settled: number[] = [];
      for (let epoch = 0; epoch < 40; epoch++) {
        round();
        settled.push(error());
      }
      console.log(
        `delta-int${b}: error while drifting ${drifting.map((e) => e.toExponential(1)).join(' ')}; settled after 10, 20, 40 rounds ${[9, 19, 39].map((r) => (settled[r] as number).toExponential(1)).join(', ')}`,
      );
      // Drifting by ~0.04 at most per round: after the first round the error is bounded by
      // the drift, not the range, and it does not grow.
      const lastDrift = drifting.slice(5);
      expect(Math.max(...lastDrift)).toBeLessThan(Math.max(...drifting.slice(1, 5)) * 2);
      // Settled: down to the f32 rounding of the values themselves.
      expect(settled.at(-1)).toBeLessThanOrEqual(largest * 2 ** -22);
    }
  });
});
