// Compressed links: blockwise int8 activations and gradients barely move the loss and the
// gradients, the pipeline still learns real text with int8 both ways, the delta codec (AQ-SGD)
// kicks in when a sample comes back, and a wider first crossing leads 2-bit deltas.
import { beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { defaultTuning } from '../../../kernels/ops/matmul-tuning.ts';
import { activationFrameBytes } from '../../../protocol/activation-frame.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { createRng } from '../../../protocol/rng.ts';
import { splitLayers } from '../../../protocol/stage-layout.ts';
import { brownSample } from '../../helpers/brown-sample.ts';
import { difference } from '../../helpers/compare.ts';
import { MemorySplit } from '../../helpers/memory-split.ts';
import { nodeContext } from '../../helpers/node-context.ts';
import { ActivationLink, type LinkCodecs } from '../../helpers/pipeline/activation-link.ts';
import { PipelineRunner } from '../../helpers/pipeline/pipeline-runner.ts';

const CONFIG: GptConfig = { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 4, nHead: 4 };
const T = 16;
const MICROBATCH = 2;
const M = 2;
const HYPER = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxNorm: 1.0 };
const FP32: LinkCodecs = { forward: 'fp32', backward: 'fp32' };
const INT8: LinkCodecs = { forward: 'int8', backward: 'int8' };

let ctx: GpuContext;
const sample = brownSample();
const train = new MemorySplit(sample.train, CONFIG.vocabSize);
beforeAll(async () => {
  ctx = await nodeContext();
});

function pipeline(codecs: LinkCodecs, S = 3): PipelineRunner {
  return new PipelineRunner(ctx, CONFIG, {
    split: splitLayers(CONFIG.nLayer, S),
    microbatchSize: MICROBATCH,
    microbatches: M,
    T,
    matmul: defaultTuning(ctx.adapter),
    codecs,
  });
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}

describe('compressed pipeline links', () => {
  it('int8 both ways keeps the loss and the gradients close to fp32', async () => {
    const params = initParams(CONFIG, 3, { std: 0.1 });
    const batch = train.sampleBatch(MICROBATCH * M, T, createRng(9));
    const results = new Map<string, { loss: number; grads: Float32Array; up: number; down: number }>();
    for (const [name, codecs] of [
      ['fp32', FP32],
      ['int8', INT8],
      ['int4', { forward: 'int4', backward: 'int4' }],
    ] as const) {
      const runner = pipeline(codecs);
      runner.setParams(params);
      const report = await runner.forwardBackward(batch);
      const up = report.forwardBytesPerToken.reduce((a, b) => a + b, 0) / report.forwardBytesPerToken.length;
      const down =
        report.backwardBytesPerToken.reduce((a, b) => a + b, 0) / report.backwardBytesPerToken.length;
      results.set(name, { loss: report.loss, grads: await runner.readGrads(), up, down });
      runner.destroy();
    }
    const fp32 = results.get('fp32');
    if (!fp32) throw new Error('no fp32 run');
    for (const [name, r] of results) {
      const d = difference(r.grads, fp32.grads);
      console.log(
        `${name}: loss ${r.loss.toFixed(6)} (diff ${Math.abs(r.loss - fp32.loss).toExponential(2)}), grads maxDiff=${d.maxDiff.toExponential(3)} rel=${d.relative.toExponential(3)} cosine ${cosine(r.grads, fp32.grads).toFixed(6)}, ${r.up.toFixed(2)} B/token up, ${r.down.toFixed(2)} down per boundary`,
      );
    }
    const int8 = results.get('int8');
    if (!int8) throw new Error('no int8 run');
    expect(Math.abs(int8.loss - fp32.loss) / fp32.loss).toBeLessThan(2e-3);
    expect(cosine(int8.grads, fp32.grads)).toBeGreaterThan(0.999);
    // int8: one byte per value plus one f32 scale per 128 values, against four bytes.
    expect(int8.up).toBeLessThan(fp32.up / 3.5);
    expect(int8.down).toBeLessThan(fp32.down / 3.5);
  });

  it('learns Brown-corpus text with int8 both ways, as fp32 does', async () => {
    const steps = 30;
    const params = initParams(CONFIG, 1337);
    const curves = new Map<string, number[]>();
    for (const [name, codecs] of [
      ['fp32', FP32],
      ['int8', INT8],
    ] as const) {
      const runner = pipeline(codecs, 2);
      runner.setParams(params);
      const rng = createRng(7); // the same batches for both
      const losses: number[] = [];
      for (let step = 1; step <= steps; step++) {
        const batch = train.sampleBatch(MICROBATCH * M, T, rng);
        losses.push((await runner.trainStep(batch, { ...HYPER, step })).loss);
      }
      runner.destroy();
      curves.set(name, losses);
      console.log(`${name} losses: ${losses.map((x) => x.toFixed(3)).join(' ')}`);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const fp32 = curves.get('fp32') ?? [];
    const int8 = curves.get('int8') ?? [];
    const [start, end] = [mean(int8.slice(0, 5)), mean(int8.slice(-5))];
    console.log(
      `int8: first 5 steps ${start.toFixed(3)}, last 5 ${end.toFixed(3)}; fp32 last 5 ${mean(fp32.slice(-5)).toFixed(3)}`,
    );
    expect(end).toBeLessThan(start - 1);
    expect(Math.abs(end - mean(fp32.slice(-5)))).toBeLessThan(0.05);
  });

  it('sends a returning sample as a delta against the cached activation (AQ-SGD)', async () => {
    const params = initParams(CONFIG, 5, { std: 0.1 });
    const batch = train.sampleBatch(MICROBATCH * M, T, createRng(11));
    const sampleIds = [0, 17, 34, 51]; // the sequences' data positions
    const reference = pipeline(FP32);
    const delta = pipeline({ forward: 'delta-int8', backward: 'int8' });
    reference.setParams(params);
    delta.setParams(params);
    for (let step = 1; step <= 3; step++) {
      const want = await reference.trainStep(batch, { ...HYPER, step });
      const got = await delta.trainStep(batch, { ...HYPER, step }, sampleIds);
      console.log(
        `step ${step}: loss ${got.loss.toFixed(6)} vs fp32 ${want.loss.toFixed(6)}; delta frames ${JSON.stringify(got.deltaFrames)}, ${got.forwardBytesPerToken.map((x) => x.toFixed(2)).join('/')} B/token up`,
      );
      expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(2e-3);
      // The first time a sample crosses it goes plain; after that every forward frame is a delta.
      for (const frames of got.deltaFrames)
        expect(frames).toEqual({ forward: step === 1 ? 0 : M, backward: 0 });
    }
    reference.destroy();
    delta.destroy();
  });

  it('sends a first crossing with its own codec, then 2-bit deltas, and gradients rounded stochastically', async () => {
    const params = initParams(CONFIG, 5, { std: 0.1 });
    const batch = train.sampleBatch(MICROBATCH * M, T, createRng(11));
    const sampleIds = [0, 17, 34, 51];
    const reference = pipeline(FP32);
    const codecs: LinkCodecs = { forward: 'delta-int2', backward: 'int4-sr', firstCrossing: 'int8' };
    const low = pipeline(codecs);
    reference.setParams(params);
    low.setParams(params);
    const rows = MICROBATCH * T;
    // M frames of `rows` tokens each way per boundary and step.
    const perToken = (codec: 'int8' | 'int2' | 'int4') =>
      activationFrameBytes(codec, rows * CONFIG.dModel, 128) / rows;
    for (let step = 1; step <= 3; step++) {
      const want = await reference.trainStep(batch, { ...HYPER, step });
      const got = await low.trainStep(batch, { ...HYPER, step }, sampleIds);
      console.log(
        `step ${step}: loss ${got.loss.toFixed(6)} vs fp32 ${want.loss.toFixed(6)}; ${got.forwardBytesPerToken.map((x) => x.toFixed(2)).join('/')} B/token up, ${got.backwardBytesPerToken.map((x) => x.toFixed(2)).join('/')} down`,
      );
      expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(3e-2);
      for (const [boundary, frames] of got.deltaFrames.entries()) {
        expect(frames).toEqual({ forward: step === 1 ? 0 : M, backward: 0 });
        expect(got.forwardBytesPerToken[boundary]).toBeCloseTo(perToken(step === 1 ? 'int8' : 'int2'), 9);
        expect(got.backwardBytesPerToken[boundary]).toBeCloseTo(perToken('int4'), 9);
      }
    }
    reference.destroy();
    low.destroy();
  });

  it('refuses a delta codec as a first crossing', () => {
    const codecs: LinkCodecs = { forward: 'delta-int2', backward: 'int8', firstCrossing: 'delta-int8' };
    expect(() => new ActivationLink(ctx, { boundary: 0, rows: 4, width: 32, codecs })).toThrow(RangeError);
  });
});
