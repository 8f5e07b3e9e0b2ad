// The delta bases a volunteer keeps per peer (kernels/pipeline/route-cache.ts): a frame becomes
// a base only when its step commits, on both ends alike whatever order the receiver decoded in;
// a sample re-routed to a replica it never met goes plain and its old base waits for the route to
// come back; a receiver without the base refuses the delta with a typed error; an aborted step
// leaves no base; peers a committed step did not involve are forgotten; each link keeps its cap.
import { describe, expect, it } from 'vitest';
import { ROUTE_CACHE_BYTES_PER_LINK, RouteCache } from '../../../kernels/pipeline/route-cache.ts';
import { encodeActivationsReference } from '../../../kernels/reference/activation-codec.ts';
import type { ActivationCodec, ActivationFrame } from '../../../protocol/activation-frame.ts';
import { createRng } from '../../../protocol/rng.ts';

const WIDTH = 32;
const ROWS = 4;
const BLOCK = 64;
const CODEC: ActivationCodec = 'delta-int4';
const rng = createRng(5);
const tensor = (scale = 1) =>
  Float32Array.from({ length: ROWS * WIDTH }, () => scale * (rng.nextFloat() * 2 - 1));

/** Sends `values` as stage 0's peer 'a' to `peer`: chooses, encodes, keeps what it sent. */
function send(cache: RouteCache, peer: string, microbatch: number, sampleId: number, values: Float32Array) {
  const key = { boundary: 0, direction: 'forward' as const, sampleId };
  const choice = cache.codecFor(peer, key, values.length, CODEC);
  const frame: ActivationFrame = {
    direction: 'forward',
    codec: choice.codec,
    round: 1,
    microbatch,
    boundary: 0,
    sampleIdBase: sampleId,
    rows: ROWS,
    width: WIDTH,
    blockSize: BLOCK,
    ...encodeActivationsReference(values, choice.codec, BLOCK, choice.cached ?? undefined),
  };
  const kept = cache.accept(peer, frame);
  if (!kept.ok) throw new Error(kept.error.message);
  return { frame, decoded: kept.value };
}

describe('RouteCache', () => {
  it('files a step’s frames as bases only at commit, the same on both ends whatever the decode order', () => {
    const sender = new RouteCache();
    const receiver = new RouteCache();
    const x = [tensor(), tensor(), tensor()];
    const sent = x.map((v, m) => send(sender, 'r', m, 100 + m, v));
    expect(sent.map((s) => s.frame.codec)).toEqual(['int4', 'int4', 'int4']);
    // Decoded in another order than sent (the receiver's stage order is its own).
    for (const m of [2, 0, 1]) {
      const got = receiver.accept('a', (sent[m] as (typeof sent)[number]).frame);
      expect(got.ok && got.value).toEqual(sent[m]?.decoded);
    }
    // Not yet committed: the same step's samples would still go plain.
    expect(
      sender.codecFor('r', { boundary: 0, direction: 'forward', sampleId: 100 }, x[0]?.length ?? 0, CODEC)
        .codec,
    ).toBe('int4');
    sender.commit();
    receiver.commit();
    // The next epoch: deltas, and the receiver reconstructs exactly what the sender kept.
    const next = x.map((v) => v.map((y) => y + 0.01 * (rng.nextFloat() - 0.5)));
    for (let m = 0; m < 3; m++) {
      const again = send(sender, 'r', m, 100 + m, next[m] as Float32Array);
      expect(again.frame.codec).toBe('delta-int4');
      const got = receiver.accept('a', again.frame);
      expect(got.ok && got.value).toEqual(again.decoded);
      // A delta of the change costs the change's rounding, not the activation's.
      const err = Math.max(
        ...(next[m] as Float32Array).map((y, j) => Math.abs(y - (again.decoded[j] as number))),
      );
      expect(err).toBeLessThan(0.01);
    }
  });

  it('a sample re-routed to a replica it never met goes plain; its base with the old one waits', () => {
    const sender = new RouteCache();
    const [r1, r2] = [new RouteCache(), new RouteCache()];
    const v = tensor();
    const first = send(sender, 'r1', 0, 7, v);
    r1.accept('a', first.frame);
    // r2 takes another microbatch this step, so both replicas stay partners.
    const other = send(sender, 'r2', 1, 8, tensor());
    r2.accept('a', other.frame);
    for (const c of [sender, r1, r2]) c.commit();
    // Re-routed: sample 7 to r2, which holds no base for it.
    const moved = send(sender, 'r2', 0, 7, v);
    expect(moved.frame.codec).toBe('int4');
    expect(r2.accept('a', moved.frame).ok).toBe(true);
    const back = send(sender, 'r1', 1, 8, tensor());
    expect(back.frame.codec).toBe('int4');
    r1.accept('a', back.frame);
    for (const c of [sender, r1, r2]) c.commit();
    // Routed back: the base with r1 from two steps ago is still there, on both ends.
    const home = send(sender, 'r1', 0, 7, v);
    expect(home.frame.codec).toBe('delta-int4');
    const got = r1.accept('a', home.frame);
    expect(got.ok && got.value).toEqual(home.decoded);
  });

  it('a receiver without the base refuses the delta with a typed error; an abort then leaves no base', () => {
    const sender = new RouteCache();
    const receiver = new RouteCache();
    const v = tensor();
    receiver.accept('a', send(sender, 'r', 0, 3, v).frame);
    sender.commit();
    receiver.commit();
    // The receiver lost its caches (a reload under the same key): the sender does not know yet.
    const fresh = new RouteCache();
    const delta = send(sender, 'r', 0, 3, v);
    expect(delta.frame.codec).toBe('delta-int4');
    expect(fresh.accept('a', delta.frame)).toMatchObject({
      ok: false,
      error: { code: 'ERR_FRAME_NO_CACHE' },
    });
    // The step runs into its deadline and is aborted: every peer rolls back, and the next attempt
    // goes plain.
    sender.rollback();
    fresh.rollback();
    expect(sender.peerCount).toBe(0);
    const retry = send(sender, 'r', 0, 3, v);
    expect(retry.frame.codec).toBe('int4');
    expect(fresh.accept('a', retry.frame).ok).toBe(true);
  });

  it('an aborted step’s frames never become bases', () => {
    const sender = new RouteCache();
    send(sender, 'r', 0, 3, tensor());
    sender.rollback();
    sender.commit();
    expect(sender.bytes).toBe(0);
    expect(send(sender, 'r', 0, 3, tensor()).frame.codec).toBe('int4');
  });

  it('forgets the peers a committed step did not involve, on both ends', () => {
    const sender = new RouteCache();
    send(sender, 'gone', 0, 1, tensor());
    send(sender, 'stays', 1, 2, tensor());
    sender.commit();
    expect(sender.peerCount).toBe(2);
    send(sender, 'stays', 0, 1, tensor());
    sender.commit();
    expect(sender.peerCount).toBe(1);
    expect(send(sender, 'gone', 0, 1, tensor()).frame.codec).toBe('int4');
  });

  it('keeps each link within its byte cap, least recently filed out first', () => {
    expect(ROUTE_CACHE_BYTES_PER_LINK).toBe(16 * 2 ** 20);
    const bytes = ROWS * WIDTH * 4;
    const sender = new RouteCache(2 * bytes);
    const receiver = new RouteCache(2 * bytes);
    const sent = [0, 1, 2].map((m) => send(sender, 'r', m, 10 + m, tensor()).frame);
    // The receiver decodes in reverse: filing in microbatch order still evicts what the sender does.
    for (const frame of [...sent].reverse()) receiver.accept('a', frame);
    sender.commit();
    receiver.commit();
    expect(sender.bytes).toBe(2 * bytes);
    const held = (c: RouteCache, peer: string) =>
      [10, 11, 12].map(
        (sampleId) => c.peek(peer, { boundary: 0, direction: 'forward', sampleId }) !== undefined,
      );
    expect(held(sender, 'r')).toEqual([false, true, true]);
    expect(held(receiver, 'a')).toEqual([false, true, true]);
    const codecOf = (sampleId: number) =>
      sender.codecFor('r', { boundary: 0, direction: 'forward', sampleId }, ROWS * WIDTH, CODEC).codec;
    expect([10, 11, 12].map(codecOf)).toEqual(['int4', 'delta-int4', 'delta-int4']);
    expect(() => new RouteCache(-1)).toThrow(RangeError);
    expect(() => sender.codecFor('r', { boundary: 0, direction: 'forward', sampleId: 1 }, 1, 'int4')).toThrow(
      'route cache: int4 is not a delta codec',
    );
  });
});
