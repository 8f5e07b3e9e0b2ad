// A volunteer's stage as the network sees it (kernels/pipeline/stage-engine.ts): with fp32 frames,
// a first stage and two replicas of the last, each replica taking half the microbatches, sum to
// the unsplit pipeline's gradients; both replicas give the same gradient norm to the bit and step
// to the same weights; an aborted step is undone; a frame that is hostile or belongs elsewhere is
// refused without running anything, and a step without its summed gradient or with a norm that
// is no norm is refused too.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { defaultTuning } from '../../../kernels/ops/matmul-tuning.ts';
import { StageEngine } from '../../../kernels/pipeline/stage-engine.ts';
import { globalNorm } from '../../../kernels/reference/gradnorm.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { WTE } from '../../../protocol/param-layout.ts';
import { createRng } from '../../../protocol/rng.ts';
import { wholeModelNorm } from '../../../protocol/stage-grad-norm.ts';
import { splitLayers } from '../../../protocol/stage-layout.ts';
import { decodeTensorFrame } from '../../../protocol/tensor-frame.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';
import { expectClose } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';
import { PipelineRunner } from '../../helpers/pipeline/pipeline-runner.ts';

const resolved = resolveRunConfig({
  model: { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 2, nHead: 2 },
  inner: { batchSize: 8, seqLen: 16 },
  pipeline: { stages: 2, microbatches: 4, microbatchSize: 2, forward: 'fp32', backward: 'fp32' },
});
if (!resolved.ok) throw new Error(resolved.message);
const config = resolved.config;
const B = 2;
const M = 4;
const T = 16;
const N = B * T;

const rng = createRng(9);
const tokens = Uint32Array.from({ length: M * N + 1 }, () => rng.nextBelow(256));

let ctx: GpuContext;
let first: StageEngine;
let replicas: [StageEngine, StageEngine];
beforeAll(async () => {
  ctx = await nodeContext();
  first = StageEngine.create({ ctx, config, stage: 0, noiseStream: 1 });
  replicas = [
    StageEngine.create({ ctx, config, stage: 1, noiseStream: 2 }),
    StageEngine.create({ ctx, config, stage: 1, noiseStream: 2 }),
  ];
});
afterAll(() => {
  first?.destroy();
  for (const r of replicas ?? []) r.destroy();
});

/** Microbatch m's route: the first stage, then replica m mod 2 (fp32 frames: no bases to keep). */
const place = (m: number) => ({ shardStart: 0, below: 'stage0', above: `stage1.${m % 2}` });

/** One step's microbatches: m on replica m mod 2. Returns the summed loss. */
async function runMicrobatches(step: number): Promise<number> {
  let lossSum = 0;
  for (let m = 0; m < M; m++) {
    const up = await first.forward(step, m, { tokens }, place(m));
    if (!up.ok || up.value.type !== 'frame') throw new Error('stage 0 made no frame');
    const replica = replicas[m % 2] as StageEngine;
    const out = await replica.forward(step, m, { frame: up.value.bytes, tokens }, place(m));
    if (!out.ok || out.value.type !== 'loss') throw new Error('the last stage made no loss');
    lossSum += out.value.loss;
    const down = await replica.backward(step, m, undefined, place(m));
    if (!down.ok || !down.value) throw new Error('the last stage made no gradient frame');
    const done = await first.backward(step, m, down.value, place(m));
    expect(done).toEqual({ ok: true, value: null });
  }
  return lossSum;
}

/** sumGradients then applyStep, clipped by this stage's norm alone: enough where one stage steps. */
async function stepAlone(engine: StageEngine, step: number, frames: Uint8Array[]): Promise<void> {
  const summed = await engine.sumGradients(step, frames);
  if (!summed.ok) throw new Error(summed.error.message);
  await engine.applyStep(step, 1e-2, Math.sqrt(summed.value));
}

const dense = (bytes: Uint8Array) => {
  const decoded = decodeTensorFrame(bytes);
  if (!decoded.ok) throw new Error(decoded.error.message);
  return new Float32Array(
    decoded.value.words.buffer,
    decoded.value.words.byteOffset,
    decoded.value.valueCount,
  );
};

it('two replicas of the last stage sum to the unsplit pipeline, step alike, and undo an aborted step', async () => {
  const lossSum = await runMicrobatches(0);

  // The reference: the in-process pipeline on the same batch, from the same θ_0.
  const runner = new PipelineRunner(ctx, config.model, {
    split: splitLayers(2, 2),
    microbatchSize: B,
    microbatches: M,
    T,
    matmul: defaultTuning(ctx.adapter),
  });
  try {
    runner.setParams(initParams(config.model, config.seed));
    const inputs = tokens.slice(0, M * N);
    const targets = tokens.slice(1, M * N + 1);
    const report = await runner.forwardBackward({ batchSize: B * M, seqLen: T, inputs, targets });
    expect(lossSum / M).toBeCloseTo(report.loss, 5);
    const refGrads = await runner.readGrads();

    const [a, b] = replicas;
    const [g0, ga, gb, ta, tb] = await Promise.all([
      first.gradients(0),
      a.gradients(0),
      b.gradients(0),
      a.tiedGradient(0),
      b.tiedGradient(0),
    ]);
    // Stage 1: the replicas' halves add up to the whole (its tied copy's gradient belongs to stage 0).
    const last = a.layout;
    const summed = dense(ga).map((x, i) => x + (dense(gb)[i] as number));
    const wteCopy = last.get(WTE);
    const notCopy = (_: number, i: number) => i < wteCopy.offset || i >= wteCopy.offset + wteCopy.size;
    expectClose('stage 1 gradients', summed.filter(notCopy), last.gather(refGrads).filter(notCopy), 1e-5);
    // Stage 0 with the head's two parts of the tied gradient.
    const own = dense(g0);
    const wte = first.layout.get(WTE);
    const tied = dense(ta).map((x, i) => x + (dense(tb)[i] as number));
    for (let i = 0; i < wte.size; i++)
      own[wte.offset + i] = (own[wte.offset + i] as number) + (tied[i] as number);
    expectClose('stage 0 gradients', own, first.layout.gather(refGrads), 1e-5);

    // The step: every replica sums the same frames in the same order, so both replicas of stage 1
    // give the same norm to the bit; with the first stage's (tied gradient included once) that
    // is the whole model's.
    const before = await Promise.all([first.paramsHash(), a.paramsHash()]);
    const s0 = await first.sumGradients(0, [g0], [ta, tb]);
    const [sa, sb] = await Promise.all(replicas.map((r) => r.sumGradients(0, [ga, gb])));
    if (!(s0.ok && sa?.ok && sb?.ok)) throw new Error('a gradient frame was refused');
    expect(sa.value).toBe(sb.value);
    const norm = wholeModelNorm([s0.value, sa.value]);
    const refNorm = globalNorm(refGrads);
    console.log(
      `whole-model grad norm ${norm.toFixed(7)} vs the in-process pipeline's ${refNorm.toFixed(7)}`,
    );
    expect(Math.abs(norm - refNorm) / refNorm).toBeLessThan(1e-5);
    for (const engine of [first, ...replicas]) await engine.applyStep(0, 1e-2, norm);
    const weights = await first.tiedWeights(0);
    for (const r of replicas) expect(r.setTiedWeights(0, weights).ok).toBe(true);
    const [ha, hb] = await Promise.all([a.paramsHash(), b.paramsHash()]);
    expect(ha).toBe(hb);
    expect(ha).not.toBe(before[1]);
    const tensorOf = (params: Float32Array, spec: { offset: number; size: number }) =>
      params.subarray(spec.offset, spec.offset + spec.size);
    expect(tensorOf(await a.readParams(), wteCopy)).toEqual(tensorOf(await first.readParams(), wte));

    // The relay aborts: back to θ_0 everywhere, and a fresh step runs from it.
    first.rollback();
    for (const r of replicas) r.rollback();
    expect(await first.paramsHash()).toBe(before[0]);
    // The snapshot was taken before the tied copy was written, so the copy is back too.
    expect(await a.paramsHash()).toBe(before[1]);
    expect(await runMicrobatches(0)).toBeCloseTo(lossSum, 5);
  } finally {
    runner.destroy();
    first.rollback();
    for (const r of replicas) r.rollback();
  }
});

it('a new replica that imports a stage’s state holds the same weights and steps alike', async () => {
  const [a] = replicas;
  const fresh = StageEngine.create({ ctx, config, stage: 1, noiseStream: 2 });
  try {
    await runMicrobatches(6); // a's weights and moments after one committed step
    const [ga, gb] = await Promise.all([a.gradients(6), replicas[1].gradients(6)]);
    for (const r of replicas) await stepAlone(r, 6, [ga, gb]);
    first.rollback();
    for (const r of replicas) r.commit();
    expect(await fresh.paramsHash()).not.toBe(await a.paramsHash());
    const state = await a.exportState(7);
    expect(fresh.importState(8, state)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } });
    expect(fresh.importState(7, state)).toEqual({ ok: true, value: undefined });
    expect(await fresh.paramsHash()).toBe(await a.paramsHash());
    // The same gradients and step count take both to the same weights (AdamW's moments came too).
    const grads = await a.gradients(9);
    await stepAlone(a, 9, [grads]);
    await stepAlone(fresh, 9, [grads]);
    expect(await fresh.paramsHash()).toBe(await a.paramsHash());
  } finally {
    fresh.destroy();
    for (const r of replicas) r.rollback();
  }
});

it('refuses frames that are corrupt, of another step or microbatch, or the wrong kind, and runs nothing', async () => {
  const up = await first.forward(3, 1, { tokens }, place(1));
  if (!up.ok || up.value.type !== 'frame') throw new Error('stage 0 made no frame');
  const bytes = up.value.bytes;
  const flipped = bytes.slice();
  flipped[bytes.length - 3] = (flipped[bytes.length - 3] as number) ^ 0x10;
  const [a] = replicas;
  expect(await a.forward(3, 1, { frame: flipped, tokens }, place(1))).toMatchObject({
    ok: false,
    error: { code: 'ERR_FRAME_CHECKSUM' },
  });
  expect(await a.forward(4, 1, { frame: bytes, tokens }, place(1))).toMatchObject({
    ok: false,
    error: { code: 'ERR_FRAME_FIELD' },
  });
  expect(await a.forward(3, 2, { frame: bytes, tokens }, place(2))).toMatchObject({
    ok: false,
    error: { code: 'ERR_FRAME_FIELD' },
  });
  expect(await a.forward(3, 1, { frame: bytes.subarray(0, 20), tokens }, place(1))).toMatchObject({
    ok: false,
  });
  // A gradient frame where the tied weights are expected, and one of another step.
  const grads = await a.gradients(3);
  expect(a.setTiedWeights(3, grads)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } });
  expect(await a.sumGradients(5, [grads])).toMatchObject({
    ok: false,
    error: { code: 'ERR_FRAME_FIELD' },
  });
  // No step without its summed gradient (the refused frames left none), nor with a norm that is none.
  await expect(a.applyStep(5, 1e-2, 1)).rejects.toThrow(/no summed gradient/);
  expect((await a.sumGradients(3, [grads])).ok).toBe(true);
  for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY])
    await expect(a.applyStep(3, 1e-2, bad)).rejects.toThrow(RangeError);
  // Nothing was forwarded on the replica: microbatch 1 can still run there.
  const out = await a.forward(3, 1, { frame: bytes, tokens }, place(1));
  expect(out.ok && out.value.type).toBe('loss');
  first.rollback();
  a.rollback();
});
