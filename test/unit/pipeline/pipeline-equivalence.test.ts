// With compression off (fp32 frames), a model split into stages, each running its microbatches
// in the order a stage volunteer does (kernels/pipeline/stage-order.ts; with the in-process
// runner's in-order links that order is 1F1B), computes what the unsplit GpuGpt computes on the
// same batch: the loss, every
// parameter gradient (the tied embedding's included), and, step after step, the parameters.
// Only the order of float additions differs (microbatch sums, the split gradient norm).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { defaultTuning } from '../../../kernels/ops/matmul-tuning.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { paramLayout, WTE } from '../../../protocol/param-layout.ts';
import { createRng } from '../../../protocol/rng.ts';
import { splitLayers } from '../../../protocol/stage-layout.ts';
import type { TokenBatch } from '../../../protocol/token-batch.ts';
import { difference, expectClose } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';
import { keyBiasMask, without } from '../../helpers/pipeline/key-bias-mask.ts';
import { PipelineRunner } from '../../helpers/pipeline/pipeline-runner.ts';

const CONFIG: GptConfig = { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 4, nHead: 4 };
const T = 16;
const BATCH = 4;
const HYPER = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxNorm: 1.0 };

/** A batch of pseudo-random tokens (the equivalence holds for any tokens). */
function randomBatch(seed: number): TokenBatch {
  const rng = createRng(seed);
  const inputs = Uint32Array.from({ length: BATCH * T }, () => rng.nextBelow(CONFIG.vocabSize));
  const targets = Uint32Array.from({ length: BATCH * T }, () => rng.nextBelow(CONFIG.vocabSize));
  return { batchSize: BATCH, seqLen: T, inputs, targets };
}

describe('pipeline (fp32 links) equals the unsplit model', () => {
  let ctx: GpuContext;
  let reference: GpuGpt;
  const params = initParams(CONFIG, 11, { std: 0.2 });
  const batch = randomBatch(5);
  let refLoss = 0;
  let refGrads: Float32Array = new Float32Array(0);

  beforeAll(async () => {
    ctx = await nodeContext();
    reference = new GpuGpt(ctx, CONFIG, { B: BATCH, T, matmul: defaultTuning(ctx.adapter) });
    reference.setParams(params);
    refLoss = await reference.forwardBackward(batch.inputs, batch.targets);
    refGrads = await reference.readGrads();
  });
  afterAll(() => reference.destroy());

  const pipeline = (S: number, M: number) =>
    new PipelineRunner(ctx, CONFIG, {
      split: splitLayers(CONFIG.nLayer, S),
      microbatchSize: BATCH / M,
      microbatches: M,
      T,
      matmul: defaultTuning(ctx.adapter),
    });

  for (const [S, M] of [
    [2, 1],
    [2, 2],
    [3, 2],
    [3, 4],
  ] as const) {
    it(`gives the same loss and gradients with ${S} stages and ${M} microbatches`, async () => {
      const runner = pipeline(S, M);
      runner.setParams(params);
      const report = await runner.forwardBackward(batch);
      const grads = await runner.readGrads();
      console.log(
        `S=${S} M=${M}: loss ${report.loss.toFixed(7)} vs ${refLoss.toFixed(7)} (diff ${Math.abs(report.loss - refLoss).toExponential(2)}), microbatch losses ${report.microbatchLosses.map((x) => x.toFixed(4)).join(' ')}`,
      );
      expect(Math.abs(report.loss - refLoss) / refLoss).toBeLessThan(1e-6);
      expectClose(`S=${S} M=${M} grads`, grads, refGrads, 1e-5);
      const wte = paramLayout(CONFIG).get(WTE);
      const slice = (a: Float32Array) => a.subarray(wte.offset, wte.offset + wte.size);
      expectClose(`S=${S} M=${M} tied wte grad`, slice(grads), slice(refGrads), 1e-5);
      // fp32 frames: 4 bytes per value plus the 36-byte header per microbatch.
      const perToken = 4 * CONFIG.dModel + 36 / ((BATCH / M) * T);
      expect(report.forwardBytesPerToken).toEqual(new Array(S - 1).fill(perToken));
      expect(report.backwardBytesPerToken).toEqual(new Array(S - 1).fill(perToken));
      runner.destroy();
    });
  }

  // Clipping is the one step that needs the whole model: every stage scales its gradients by
  // min(1, maxNorm / (norm + 1e-6)) of the norm over all stages, the tied embedding counted once
  // (on its owner, with the head's part added). At std 0.2 the norm is ~3 against maxNorm 1, so
  // every step clips; a pipeline that left its gradients unclipped ends far from the unsplit
  // model (the control below), so the agreement is the clipping's, not Adam's scale invariance.
  for (const S of [2, 3]) {
    it(`trains to the same parameters over four clipped steps (${S} stages, 2 microbatches, decay)`, async () => {
      const model = new GpuGpt(ctx, CONFIG, { B: BATCH, T, matmul: defaultTuning(ctx.adapter) });
      model.setParams(params);
      const runner = pipeline(S, 2);
      runner.setParams(params);
      const unclipped = pipeline(S, 2);
      unclipped.setParams(params);
      const mask = keyBiasMask(CONFIG);
      for (let step = 1; step <= 4; step++) {
        const b = randomBatch(100 + step);
        const hyper = { ...HYPER, step };
        const want = await model.trainStep(b.inputs, b.targets, hyper);
        const got = await runner.trainStep(b, hyper);
        await unclipped.trainStep(b, { ...hyper, maxNorm: 0 });
        const wantNorm = await model.gradNorm();
        console.log(
          `S=${S} step ${step}: loss ${got.loss.toFixed(7)} vs ${want.toFixed(7)}; grad norm ${got.gradNorm?.toFixed(6)} vs ${wantNorm.toFixed(6)}`,
        );
        expect(Math.abs(got.loss - want) / want).toBeLessThan(1e-5);
        expect(Math.abs((got.gradNorm ?? 0) - wantNorm)).toBeLessThan(1e-5);
        expect(got.gradNorm).toBeGreaterThan(2 * HYPER.maxNorm); // the clip fired
        expect(got.tiedBytes).toBe(2 * CONFIG.vocabSize * CONFIG.dModel * 4);
      }
      const got = await runner.readParams();
      const want = await model.readParams();
      expectClose(
        `S=${S} params after 4 steps (key biases aside)`,
        without(got, mask),
        without(want, mask),
        1e-5,
      );
      const control = difference(without(await unclipped.readParams(), mask), without(want, mask));
      console.log(`S=${S} unclipped pipeline after 4 steps: rel=${control.relative.toExponential(3)}`);
      expect(control.relative).toBeGreaterThan(100 * 1e-5);
      // Not asserted: both runs hold noise there (see key-bias-mask.ts); shown for the record.
      let keyDiff = 0;
      for (const [i, x] of got.entries())
        if (mask[i]) keyDiff = Math.max(keyDiff, Math.abs(x - (want[i] as number)));
      console.log(`key biases after 4 steps: maxDiff=${keyDiff.toExponential(3)} (Adam on rounding noise)`);
      // The head's copy of wte follows its owner: a fifth step's loss still agrees.
      const b = randomBatch(200);
      const again = await runner.forwardBackward(b);
      const ref = await model.forwardBackward(b.inputs, b.targets);
      expect(Math.abs(again.loss - ref) / ref).toBeLessThan(1e-5);
      runner.destroy();
      unclipped.destroy();
      model.destroy();
    });
  }

  it('refuses a batch of the wrong shape and delta codecs without sample ids', async () => {
    const runner = pipeline(2, 2);
    await expect(runner.forwardBackward({ ...batch, batchSize: 2 })).rejects.toThrow(RangeError);
    const delta = new PipelineRunner(ctx, CONFIG, {
      split: splitLayers(CONFIG.nLayer, 2),
      microbatchSize: 2,
      microbatches: 2,
      T,
      matmul: defaultTuning(ctx.adapter),
      codecs: { forward: 'delta-int8', backward: 'int8' },
    });
    await expect(delta.forwardBackward(batch)).rejects.toThrow(/sample ids/);
    runner.destroy();
    delta.destroy();
  });
});
