// What volunteers run equals the unsplit model: S StageEngines (kernels/pipeline/stage-engine.ts,
// one per volunteer) exchanging their fp32 frames as bytes, each stage running its microbatches
// in the order a pipeline volunteer does (kernels/pipeline/stage-order.ts), give GpuGpt's loss
// and gradients on the same batch from the same θ_0, the tied embedding's included; and, each
// stage clipping by the whole model's norm from every stage's sum of squares (the numbers the
// relay passes round, protocol/stage-grad-norm.ts), step after step to GpuGpt's weights.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { defaultTuning } from '../../../kernels/ops/matmul-tuning.ts';
import { StageEngine } from '../../../kernels/pipeline/stage-engine.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { paramLayout, WTE } from '../../../protocol/param-layout.ts';
import { createRng } from '../../../protocol/rng.ts';
import { wholeModelNorm } from '../../../protocol/stage-grad-norm.ts';
import { decodeTensorFrame } from '../../../protocol/tensor-frame.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';
import { difference, expectClose } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';
import { stageOps } from '../../helpers/pipeline/drive-stages.ts';
import { keyBiasMask, without } from '../../helpers/pipeline/key-bias-mask.ts';

const S = 3;
const M = 4;
const B = 2;
const T = 16;
const N = B * T;
const resolved = resolveRunConfig({
  model: { vocabSize: 256, contextLength: T, dModel: 32, nLayer: 4, nHead: 4 },
  // θ_0's gradient norm is ~1 here: a clip of 0.25 scales every step, by a different factor each.
  inner: { batchSize: B * M, seqLen: T, gradClip: 0.25 },
  pipeline: { stages: S, microbatches: M, microbatchSize: B, forward: 'fp32', backward: 'fp32' },
});
if (!resolved.ok) throw new Error(resolved.message);
const config = resolved.config;

const rng = createRng(21);
/** A step's tokens: microbatch m's inputs start at m·N, its targets one later. */
const stepTokens = () => Uint32Array.from({ length: M * N + 1 }, () => rng.nextBelow(config.model.vocabSize));
const tokens = stepTokens();

const dense = (bytes: Uint8Array) => {
  const decoded = decodeTensorFrame(bytes);
  if (!decoded.ok) throw new Error(decoded.error.message);
  const { words, valueCount } = decoded.value;
  return new Float32Array(words.buffer, words.byteOffset, valueCount);
};

let ctx: GpuContext;
let engines: StageEngine[] = [];
let reference: GpuGpt;
beforeAll(async () => {
  ctx = await nodeContext();
  engines = Array.from({ length: S }, (_, stage) =>
    StageEngine.create({ ctx, config, stage, noiseStream: stage }),
  );
  reference = new GpuGpt(ctx, config.model, { B: B * M, T, matmul: defaultTuning(ctx.adapter) });
  reference.setParams(initParams(config.model, config.seed));
});
afterAll(() => {
  for (const engine of engines) engine.destroy();
  reference?.destroy();
});

/** Stage s's neighbours: one replica per stage. */
const place = (s: number) => ({
  shardStart: 0,
  below: s > 0 ? `stage${s - 1}` : null,
  above: s < S - 1 ? `stage${s + 1}` : null,
});

/** Every stage's microbatches of one step, in the volunteers' order; resolves to the summed loss. */
async function runMicrobatches(step: number, tokens: Uint32Array): Promise<number> {
  // inbox[s]: the frames that reached stage s, by `${direction}:${microbatch}`.
  const inbox = engines.map(() => new Map<string, Uint8Array>());
  let lossSum = 0;
  const here = (s: number, type: string, m: number) => inbox[s]?.has(`${type}:${m}`) ?? false;
  for (const [s, op] of stageOps(S, M, here)) {
    const engine = engines[s] as StageEngine;
    const m = op.microbatch;
    const frame = inbox[s]?.get(`${op.type}:${m}`);
    if (op.type === 'forward') {
      const out = await engine.forward(step, m, { tokens, frame }, place(s));
      if (!out.ok) throw new Error(out.error.message);
      if (out.value.type === 'loss') lossSum += out.value.loss;
      else inbox[s + 1]?.set(`forward:${m}`, out.value.bytes);
    } else {
      const out = await engine.backward(step, m, frame, place(s));
      if (!out.ok) throw new Error(out.error.message);
      if (out.value) inbox[s - 1]?.set(`backward:${m}`, out.value);
    }
  }
  return lossSum;
}

it('stage engines in the volunteers’ order give the unsplit model’s loss and gradients', async () => {
  const step = 1;
  const lossSum = await runMicrobatches(step, tokens);

  const refLoss = await reference.forwardBackward(tokens.slice(0, M * N), tokens.slice(1, M * N + 1));
  const refGrads = await reference.readGrads();
  expect(Math.abs(lossSum / M - refLoss) / refLoss).toBeLessThan(1e-6);
  const last = engines[S - 1] as StageEngine;
  for (const engine of engines) {
    const grads = dense(await engine.gradients(step));
    const { layout } = engine;
    if (layout.isFirst) {
      // The head's part of the tied embedding's gradient comes from the last stage.
      const wte = layout.get(WTE);
      const tied = dense(await last.tiedGradient(step));
      for (let i = 0; i < wte.size; i++)
        grads[wte.offset + i] = (grads[wte.offset + i] as number) + (tied[i] as number);
    }
    // The last stage's read-only copy of the embedding is stage 0's to step.
    const copy = layout.tiedCopy ? layout.get(WTE) : null;
    const keep = (_: number, i: number) => !copy || i < copy.offset || i >= copy.offset + copy.size;
    expectClose(
      `stage ${layout.stage} gradients`,
      grads.filter(keep),
      layout.gather(refGrads).filter(keep),
      1e-5,
    );
  }
});

/**
 * The end of a step as volunteers run it, each stage alone with its replica frame (one replica
 * each): the tied gradient down, every stage's sum of squares, the whole model's norm from all
 * of them, every stage clipped by it and stepped, the new embedding up, the step committed.
 */
async function clippedStep(step: number, learningRate: number): Promise<number> {
  const first = engines[0] as StageEngine;
  const last = engines[S - 1] as StageEngine;
  const tied = await last.tiedGradient(step);
  const sums: number[] = [];
  for (const engine of engines) {
    const summed = await engine.sumGradients(
      step,
      [await engine.gradients(step)],
      engine === first ? [tied] : [],
    );
    if (!summed.ok) throw new Error(summed.error.message);
    sums.push(summed.value);
  }
  const gradNorm = wholeModelNorm(sums);
  for (const engine of engines) await engine.applyStep(step, learningRate, gradNorm);
  const written = last.setTiedWeights(step, await first.tiedWeights(step));
  if (!written.ok) throw new Error(written.error.message);
  for (const engine of engines) engine.commit();
  return gradNorm;
}

it('stage engines clipping by the whole model’s norm step to the unsplit model’s weights', async () => {
  for (const engine of engines) engine.rollback(); // the gradients of the test above
  const { inner } = config;
  const clipped = new GpuGpt(ctx, config.model, { B: B * M, T, matmul: defaultTuning(ctx.adapter) });
  const unclipped = new GpuGpt(ctx, config.model, { B: B * M, T, matmul: defaultTuning(ctx.adapter) });
  const init = initParams(config.model, config.seed);
  clipped.setParams(init);
  unclipped.setParams(init);
  try {
    for (let step = 1; step <= 3; step++) {
      const batch = stepTokens();
      const inputs = batch.slice(0, M * N);
      const targets = batch.slice(1, M * N + 1);
      const lr = 1e-2;
      const { beta1, beta2, eps, weightDecay, gradClip } = inner;
      const hyper = { lr, beta1, beta2, eps, weightDecay, step, maxNorm: gradClip };
      const want = await clipped.trainStep(inputs, targets, hyper);
      await unclipped.trainStep(inputs, targets, { ...hyper, maxNorm: 0 });
      const lossSum = await runMicrobatches(100 + step, batch);
      const gradNorm = await clippedStep(100 + step, lr);
      const wantNorm = await clipped.gradNorm();
      console.log(
        `step ${step}: loss ${(lossSum / M).toFixed(7)} vs ${want.toFixed(7)}; grad norm ${gradNorm.toFixed(7)} vs ${wantNorm.toFixed(7)} (clip ${inner.gradClip})`,
      );
      expect(Math.abs(lossSum / M - want) / want).toBeLessThan(1e-5);
      expect(Math.abs(gradNorm - wantNorm) / wantNorm).toBeLessThan(1e-5);
      expect(gradNorm).toBeGreaterThan(2 * inner.gradClip); // the clip fired
    }
    const got = new Float32Array(paramLayout(config.model).totalFloats);
    for (const engine of engines) engine.layout.scatter(await engine.readParams(), got);
    const mask = keyBiasMask(config.model);
    const want = without(await clipped.readParams(), mask);
    expectClose('weights after 3 clipped steps (key biases aside)', without(got, mask), want, 1e-5);
    // Unclipped, the same steps end elsewhere: the agreement above is the clip's.
    const control = difference(without(await unclipped.readParams(), mask), want);
    console.log(`the unclipped model after 3 steps: rel=${control.relative.toExponential(3)}`);
    expect(control.relative).toBeGreaterThan(100 * 1e-5);
  } finally {
    clipped.destroy();
    unclipped.destroy();
  }
});
