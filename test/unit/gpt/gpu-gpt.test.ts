// The whole GPU model against PyTorch's answers and the CPU reference: logits, loss, every
// gradient; determinism; and one training step against the reference AdamW.
import { beforeAll, describe, expect, it } from 'vitest';
import { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { defaultTuning } from '../../../kernels/ops/matmul-tuning.ts';
import { adamwStep } from '../../../kernels/reference/adamw.ts';
import { CpuGpt } from '../../../kernels/reference/gpt.ts';
import { clipScale, globalNorm } from '../../../kernels/reference/gradnorm.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { expectBitIdentical, expectClose } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';
import { loadTinyFixture } from '../model/gpt2-tiny.ts';

const u32 = (a: ArrayLike<number>) => Uint32Array.from(a as ArrayLike<number>);

describe('GpuGpt on the PyTorch gpt2-tiny fixture', () => {
  const fx = loadTinyFixture();
  let ctx: GpuContext;
  let model: GpuGpt;
  beforeAll(async () => {
    ctx = await nodeContext();
    model = new GpuGpt(ctx, fx.config, { B: fx.B, T: fx.T, matmul: defaultTuning(ctx.adapter) });
    model.setParams(fx.params);
  });

  it('reproduces the logits and the loss', async () => {
    const logits = await model.logits(u32(fx.inputs));
    expectClose('logits vs PyTorch', logits, fx.logits, 1e-5);
    const loss = await model.evaluate(u32(fx.inputs), u32(fx.targets));
    console.log(`loss ${loss} vs PyTorch ${fx.loss}`);
    expect(Math.abs(loss - fx.loss) / fx.loss).toBeLessThan(1e-5);
  });

  it('reproduces every gradient', async () => {
    const loss = await model.forwardBackward(u32(fx.inputs), u32(fx.targets));
    expect(Math.abs(loss - fx.loss) / fx.loss).toBeLessThan(1e-5);
    const grads = await model.readGrads();
    for (const spec of model.layout.tensors) {
      const want = fx.grads.get(spec.name);
      if (!want) throw new Error(`fixture lacks ${spec.name}`);
      expectClose(`grad ${spec.name}`, grads.subarray(spec.offset, spec.offset + spec.size), want.data, 1e-4);
    }
  });

  it('is deterministic: the same step twice gives bit-identical gradients', async () => {
    await model.forwardBackward(u32(fx.inputs), u32(fx.targets));
    const first = await model.readGrads();
    await model.forwardBackward(u32(fx.inputs), u32(fx.targets));
    expectBitIdentical('grads', first, await model.readGrads());
  });
});

describe('GpuGpt training step vs the CPU reference', () => {
  it('matches forward, backward, clipping and AdamW on odd shapes', async () => {
    const ctx = await nodeContext();
    // T and B*T not multiples of any tile; C a multiple of 4 as the kernels require.
    const config = { vocabSize: 36, contextLength: 11, dModel: 20, nLayer: 2, nHead: 5 };
    const B = 3;
    const T = 9;
    const params = initParams(config, 7, { std: 0.2 });
    const tokens = Array.from({ length: B * (T + 1) }, (_, i) => (i * 7 + 3) % config.vocabSize);
    const inputs: number[] = [];
    const targets: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        inputs.push(tokens[b * (T + 1) + t] as number);
        targets.push(tokens[b * (T + 1) + t + 1] as number);
      }
    }
    const model = new GpuGpt(ctx, config, { B, T, matmul: defaultTuning(ctx.adapter) });
    model.setParams(params);
    const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 1, maxNorm: 0.5 };
    const gpuLoss = await model.trainStep(u32(inputs), u32(targets), hyper);
    const gpuParams = await model.readParams();

    const cpu = new CpuGpt(config, params.slice());
    const fwd = cpu.forward(inputs, targets, B, T);
    const grads = cpu.backward(fwd);
    expect(Math.abs(gpuLoss - fwd.loss) / fwd.loss).toBeLessThan(1e-5);
    const gpuGrads = await model.readGrads();
    expectClose('grads', gpuGrads, grads, 1e-4);
    const norm = globalNorm(gpuGrads);
    expect(Math.abs((await model.gradNorm()) - norm) / norm).toBeLessThan(1e-5);
    // The optimizer is checked on the GPU's own gradients: some gradients are zero in exact
    // arithmetic (the key bias's, softmax being shift-invariant) and Adam's g / sqrt(v) turns
    // their rounding noise into full-size steps whose sign is a coin toss.
    const m = new Float32Array(params.length);
    const v = new Float32Array(params.length);
    const cpuParams = params.slice();
    adamwStep(cpuParams, gpuGrads, m, v, params.length, {
      ...hyper,
      decayEnd: cpu.layout.decayEnd,
      gradScale: clipScale(norm, hyper.maxNorm),
    });
    expectClose('params after one step', gpuParams, cpuParams, 1e-4);
    model.destroy();
  });
});

describe('GpuGpt determinism', () => {
  it('two models trained the same way end bit-identical (forward, backward, clip, AdamW)', async () => {
    const ctx = await nodeContext();
    const config = { vocabSize: 64, contextLength: 16, dModel: 32, nLayer: 2, nHead: 4 };
    const B = 4;
    const T = 16;
    const inputs = Uint32Array.from({ length: B * T }, (_, i) => (i * 13 + 5) % 64);
    const targets = Uint32Array.from({ length: B * T }, (_, i) => (i * 7 + 1) % 64);
    const train = async () => {
      const model = new GpuGpt(ctx, config, { B, T, matmul: defaultTuning(ctx.adapter) });
      model.setParams(initParams(config, 3));
      for (let step = 1; step <= 3; step++) {
        await model.trainStep(inputs, targets, {
          lr: 1e-2,
          beta1: 0.9,
          beta2: 0.95,
          eps: 1e-8,
          weightDecay: 0.1,
          step,
          maxNorm: 0.1,
        });
      }
      const params = await model.readParams();
      model.destroy();
      return params;
    };
    expectBitIdentical('params after 3 steps', await train(), await train());
  });
});
