// Stage engines sending the run's codecs below 4 bits to each other as volunteers do, the
// network replaced by handing the bytes over (kernels/pipeline/stage-boundary.ts): AQ-SGD deltas
// up (delta-int4) against bases kept per route, which begin only once a step commits, survive a
// re-routing and fall back to full frames where a replica lacks the base; stochastically rounded
// gradients down (int3-sr) with every peer's own noise; and receivers that refuse, with a typed
// error and before running anything, a codec the run does not name for the direction, a sample
// that is not the microbatch's, and a delta whose base they do not hold.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import {
  acceptedCodecs,
  type MicrobatchPlace,
  microbatchSampleId,
} from '../../../kernels/pipeline/stage-boundary.ts';
import { StageEngine } from '../../../kernels/pipeline/stage-engine.ts';
import { decodeActivationFrame } from '../../../protocol/activation-frame.ts';
import { createRng } from '../../../protocol/rng.ts';
import type { PipelineConfig } from '../../../protocol/run-config.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';
import { nodeContext } from '../../helpers/node-context.ts';

const M = 2;
const B = 2;
const T = 16;

function configWith(pipeline: Partial<PipelineConfig>) {
  const resolved = resolveRunConfig({
    model: { vocabSize: 256, contextLength: T, dModel: 32, nLayer: 2, nHead: 2 },
    inner: { batchSize: B * M, seqLen: T },
    pipeline: { stages: 2, microbatches: M, microbatchSize: B, blockSize: 64, ...pipeline },
  });
  if (!resolved.ok) throw new Error(resolved.message);
  return resolved.config;
}
const config = configWith({ forward: 'delta-int4', backward: 'int3-sr' });

const rng = createRng(3);
const tokens = Uint32Array.from({ length: M * B * T + 1 }, () => rng.nextBelow(256));

let ctx: GpuContext;
const engines: StageEngine[] = [];
let first: StageEngine;
let r1: StageEngine;
let r2: StageEngine;
const make = (stage: number, noiseStream: number, c = config) => {
  const engine = StageEngine.create({ ctx, config: c, stage, noiseStream });
  engines.push(engine);
  return engine;
};
beforeAll(async () => {
  ctx = await nodeContext();
  first = make(0, 10);
  r1 = make(1, 11);
  r2 = make(1, 12);
});
afterAll(() => {
  for (const engine of engines) engine.destroy();
});

const names = new Map<StageEngine, string>();
const nameOf = (e: StageEngine) => {
  if (!names.has(e)) names.set(e, `peer${names.size}`);
  return names.get(e) as string;
};
const placeOf = (replica: StageEngine, shardStart = 0): MicrobatchPlace => ({
  shardStart,
  below: nameOf(first),
  above: nameOf(replica),
});
const codecOf = (bytes: Uint8Array) => {
  const decoded = decodeActivationFrame(bytes);
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.value.codec;
};

/** One microbatch up to `replica` and back; resolves to the codecs of its two frames. */
async function crossing(step: number, m: number, replica: StageEngine) {
  const place = placeOf(replica);
  const up = await first.forward(step, m, { tokens }, place);
  if (!up.ok || up.value.type !== 'frame') throw new Error('stage 0 made no frame');
  const out = await replica.forward(step, m, { frame: up.value.bytes, tokens }, place);
  if (!out.ok) throw new Error(out.error.message);
  const down = await replica.backward(step, m, undefined, place);
  if (!down.ok || !down.value) throw new Error('the last stage made no gradient frame');
  const done = await first.backward(step, m, down.value, place);
  if (!done.ok) throw new Error(done.error.message);
  return { up: codecOf(up.value.bytes), down: codecOf(down.value) };
}

const commitAll = () => {
  for (const e of [first, r1, r2]) e.commit();
};

it('deltas begin once a step commits, survive a re-routing, and go plain to a replica without the base', async () => {
  // Step 1: every sample's first crossing, plain at the delta codec's width.
  expect(await crossing(1, 0, r1)).toEqual({ up: 'int4', down: 'int3-sr' });
  expect(await crossing(1, 1, r2)).toEqual({ up: 'int4', down: 'int3-sr' });
  commitAll();
  // Step 2, the same samples on the same routes: deltas.
  expect(await crossing(2, 0, r1)).toEqual({ up: 'delta-int4', down: 'int3-sr' });
  expect(await crossing(2, 1, r2)).toEqual({ up: 'delta-int4', down: 'int3-sr' });
  commitAll();
  // Step 3, the routes swapped: each replica meets a sample it never saw, sent plain.
  expect(await crossing(3, 0, r2)).toEqual({ up: 'int4', down: 'int3-sr' });
  expect(await crossing(3, 1, r1)).toEqual({ up: 'int4', down: 'int3-sr' });
  commitAll();
  // Step 4, back on the first routes: the bases of step 2 were kept on both ends.
  expect(await crossing(4, 0, r1)).toEqual({ up: 'delta-int4', down: 'int3-sr' });
  // An aborted step: every base goes, and the next attempt sends full frames.
  for (const e of [first, r1, r2]) e.rollback();
  expect(await crossing(5, 0, r1)).toEqual({ up: 'int4', down: 'int3-sr' });
  for (const e of [first, r1, r2]) e.rollback();
});

it('a replica that lost its bases refuses a delta with ERR_FRAME_NO_CACHE and runs nothing', async () => {
  await crossing(1, 0, r1);
  commitAll();
  const up = await first.forward(2, 0, { tokens }, placeOf(r1));
  if (!up.ok || up.value.type !== 'frame') throw new Error('stage 0 made no frame');
  expect(codecOf(up.value.bytes)).toBe('delta-int4');
  // The same key, a new engine: a page reloaded between two steps.
  const reloaded = make(1, 11);
  names.set(reloaded, nameOf(r1));
  expect(await reloaded.forward(2, 0, { frame: up.value.bytes, tokens }, placeOf(reloaded))).toMatchObject({
    ok: false,
    error: { code: 'ERR_FRAME_NO_CACHE' },
  });
  // Nothing ran there: the microbatch's backward has no forward to go back through.
  await expect(reloaded.backward(2, 0, undefined, placeOf(reloaded))).rejects.toThrow();
  for (const e of [first, r1, r2, reloaded]) e.rollback();
});

it('refuses a codec the run does not name for the direction, and a sample that is not the microbatch’s', async () => {
  // A peer on another config: int8 up where the run sends delta-int4 (or int4 the first time).
  const wide = make(0, 13, configWith({ forward: 'int8', backward: 'int3-sr' }));
  names.set(wide, nameOf(first));
  const place = placeOf(r1);
  const up = await wide.forward(1, 0, { tokens }, place);
  if (!up.ok || up.value.type !== 'frame') throw new Error('no frame');
  expect(await r1.forward(1, 0, { frame: up.value.bytes, tokens }, place)).toMatchObject({
    ok: false,
    error: { code: 'ERR_FRAME_FORMAT', message: 'a forward frame in int8; the run sends delta-int4 or int4' },
  });
  // The run's codec at another block size.
  const blocks = make(0, 15, configWith({ forward: 'delta-int4', backward: 'int3-sr', blockSize: 32 }));
  names.set(blocks, nameOf(first));
  const other = await blocks.forward(1, 0, { tokens }, place);
  if (!other.ok || other.value.type !== 'frame') throw new Error('no frame');
  expect(await r1.forward(1, 0, { frame: other.value.bytes, tokens }, place)).toMatchObject({
    ok: false,
    error: { code: 'ERR_FRAME_FORMAT', message: 'a forward frame of 32 values per scale; the run sends 64' },
  });
  // Gradients rounded to nearest where the run rounds them stochastically.
  const nearest = make(1, 14, configWith({ forward: 'delta-int4', backward: 'int3' }));
  names.set(nearest, nameOf(r1));
  const ours = await first.forward(1, 0, { tokens }, place);
  if (!ours.ok || ours.value.type !== 'frame') throw new Error('no frame');
  expect((await nearest.forward(1, 0, { frame: ours.value.bytes, tokens }, place)).ok).toBe(true);
  const down = await nearest.backward(1, 0, undefined, place);
  if (!down.ok || !down.value) throw new Error('no gradient frame');
  expect(await first.backward(1, 0, down.value, place)).toMatchObject({
    ok: false,
    error: { code: 'ERR_FRAME_FORMAT', message: 'a backward frame in int3; the run sends int3-sr' },
  });
  // The right codec for another sample than the one this step's data puts there.
  expect(await r1.forward(1, 0, { frame: ours.value.bytes, tokens }, placeOf(r1, 64))).toMatchObject({
    ok: false,
    error: { code: 'ERR_FRAME_FIELD' },
  });
  for (const e of [first, r1, wide, blocks, nearest]) e.rollback();
});

it('each peer rounds its gradients with its own noise, and the same peer alike every time', async () => {
  // Both replicas get the very same frame for microbatch 0, so they hold the same gradient.
  const up = await first.forward(1, 0, { tokens }, placeOf(r1));
  if (!up.ok || up.value.type !== 'frame') throw new Error('no frame');
  const frame = up.value.bytes;
  const downOf = async (replica: StageEngine) => {
    const place = { shardStart: 0, below: nameOf(first), above: null };
    expect((await replica.forward(1, 0, { frame, tokens }, place)).ok).toBe(true);
    const down = await replica.backward(1, 0, undefined, place);
    if (!down.ok || !down.value) throw new Error('no gradient frame');
    return down.value;
  };
  const [a, b] = [await downOf(r1), await downOf(r2)];
  expect(codecOf(a)).toBe('int3-sr');
  expect(a.length).toBe(b.length);
  expect(a).not.toEqual(b);
  r1.rollback();
  expect(await downOf(r1)).toEqual(a);
  for (const e of [first, r1, r2]) e.rollback();
});

it('takes a delta codec or its width plain, anything else only as named; sample ids wrap at 2^32', () => {
  expect(acceptedCodecs('delta-int4')).toEqual(['delta-int4', 'int4']);
  expect(acceptedCodecs('delta-int2')).toEqual(['delta-int2', 'int2']);
  expect(acceptedCodecs('int3-sr')).toEqual(['int3-sr']);
  expect(acceptedCodecs('fp32')).toEqual(['fp32']);
  expect(microbatchSampleId(1000, 3, 64)).toBe(1192);
  expect(microbatchSampleId(2 ** 32 - 16, 1, 32)).toBe(16);
});
