// GpuStage on its own: two stages chained through GPU buffers (no link, no codec) reproduce the
// unsplit model's loss and gradients, including with two microbatches in flight at once; and
// out-of-order calls fail with stable codes.
import { beforeAll, describe, expect, it } from 'vitest';
import { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { defaultTuning } from '../../../kernels/ops/matmul-tuning.ts';
import { GpuStage } from '../../../kernels/pipeline/gpu-stage.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { WTE } from '../../../protocol/param-layout.ts';
import { splitLayers, stageLayout } from '../../../protocol/stage-layout.ts';
import { expectClose } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';

const CONFIG: GptConfig = { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 2, nHead: 4 };
const T = 16;
const B = 2;

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeContext();
});

const split = splitLayers(CONFIG.nLayer, 2);
const stage = (s: number, options: { slots?: number; microbatches?: number } = {}) =>
  new GpuStage(ctx, CONFIG, stageLayout(CONFIG, split, s), {
    B,
    T,
    matmul: defaultTuning(ctx.adapter),
    ...options,
  });

describe('GpuStage', () => {
  it('chains through GPU buffers to the unsplit loss and gradients, two microbatches in flight', async () => {
    const params = initParams(CONFIG, 21, { std: 0.2 });
    const inputs = Uint32Array.from({ length: 2 * B * T }, (_, i) => (i * 37 + 11) % CONFIG.vocabSize);
    const targets = Uint32Array.from({ length: 2 * B * T }, (_, i) => (i * 53 + 7) % CONFIG.vocabSize);
    const model = new GpuGpt(ctx, CONFIG, { B: 2 * B, T, matmul: defaultTuning(ctx.adapter) });
    model.setParams(params);
    const want = await model.forwardBackward(inputs, targets);

    const first = stage(0, { slots: 2 });
    const last = stage(1, { microbatches: 2 });
    first.setParams(params);
    last.setParams(params);
    const part = (a: Uint32Array, m: number) => a.subarray(m * B * T, (m + 1) * B * T);
    // GPipe's order on the first stage (both forwards, then both backwards): two slots in use.
    const losses: number[] = [];
    const outs = [];
    for (const m of [0, 1]) {
      const out = await first.forward(m, part(inputs, m));
      if (out.type !== 'activation') throw new Error('the first stage hands on activations');
      outs.push(out.buffer);
    }
    for (const m of [0, 1]) {
      const out = await last.forward(m, outs[m] as GPUBuffer, part(targets, m));
      if (out.type !== 'loss') throw new Error('the last stage computes the loss');
      losses.push(out.loss);
      const grad = await last.backward(m);
      if (!grad) throw new Error('the last stage hands a gradient back');
      expect(await first.backward(m, grad)).toBeNull();
    }
    first.addGrad(WTE, await last.readTensor('grads', WTE));
    const loss = (losses[0] as number) / 2 + (losses[1] as number) / 2;
    console.log(`loss ${loss} vs unsplit ${want}`);
    expect(Math.abs(loss - want) / want).toBeLessThan(1e-6);

    const grads = new Float32Array(first.layout.global.totalFloats);
    first.layout.scatter(await first.readGrads(), grads);
    last.layout.scatter(await last.readGrads(), grads);
    expectClose('chained stages grads', grads, await model.readGrads(), 1e-5);
    first.destroy();
    last.destroy();
    model.destroy();
  });

  it('refuses calls out of order, and use after destroy', async () => {
    const first = stage(0);
    const tokens = new Uint32Array(B * T);
    await expect(first.forward(0, new Float32Array(B * T * CONFIG.dModel))).rejects.toThrow(/takes tokens/);
    await first.forward(0, tokens);
    await expect(first.forward(0, tokens)).rejects.toThrow(/ERR_STATE.*already in flight/);
    await expect(first.forward(1, tokens)).rejects.toThrow(/ERR_STATE.*slots are in flight/);
    await expect(first.backward(3, new Float32Array(B * T * CONFIG.dModel))).rejects.toThrow(/ERR_STATE/);
    const last = stage(1);
    await expect(last.forward(0, tokens, tokens)).rejects.toThrow(/takes activations/);
    await expect(last.forward(0, new Float32Array(3), tokens)).rejects.toThrow(/floats/);
    await expect(last.forward(0, new Float32Array(B * T * CONFIG.dModel))).rejects.toThrow(/targets/);
    first.destroy();
    first.destroy();
    last.destroy();
    expect(() => first.setParams(new Float32Array(0))).toThrow(/ERR_DEVICE_LOST/);
  });
});
