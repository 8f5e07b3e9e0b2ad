// What volunteers run equals the unsplit model: S StageEngines (kernels/pipeline/stage-engine.ts,
// one per volunteer) exchanging their fp32 frames as bytes, each stage running its microbatches
// in the order a pipeline volunteer does (kernels/pipeline/stage-order.ts), give GpuGpt's loss
// and gradients on the same batch from the same θ_0, the tied embedding's included.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { defaultTuning } from '../../../kernels/ops/matmul-tuning.ts';
import { StageEngine } from '../../../kernels/pipeline/stage-engine.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { WTE } from '../../../protocol/param-layout.ts';
import { createRng } from '../../../protocol/rng.ts';
import { decodeTensorFrame } from '../../../protocol/tensor-frame.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';
import { expectClose } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';
import { stageOps } from '../../helpers/pipeline/drive-stages.ts';

const S = 3;
const M = 4;
const B = 2;
const T = 16;
const N = B * T;
const resolved = resolveRunConfig({
  model: { vocabSize: 256, contextLength: T, dModel: 32, nLayer: 4, nHead: 4 },
  inner: { batchSize: B * M, seqLen: T },
  pipeline: { stages: S, microbatches: M, microbatchSize: B, forward: 'fp32', backward: 'fp32' },
});
if (!resolved.ok) throw new Error(resolved.message);
const config = resolved.config;

const rng = createRng(21);
const tokens = Uint32Array.from({ length: M * N + 1 }, () => rng.nextBelow(config.model.vocabSize));

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
  engines = Array.from({ length: S }, (_, stage) => StageEngine.create({ ctx, config, stage }));
  reference = new GpuGpt(ctx, config.model, { B: B * M, T, matmul: defaultTuning(ctx.adapter) });
  reference.setParams(initParams(config.model, config.seed));
});
afterAll(() => {
  for (const engine of engines) engine.destroy();
  reference?.destroy();
});

it('stage engines in the volunteers’ order give the unsplit model’s loss and gradients', async () => {
  const step = 1;
  // inbox[s]: the frames that reached stage s, by `${direction}:${microbatch}`.
  const inbox = engines.map(() => new Map<string, Uint8Array>());
  let lossSum = 0;
  const here = (s: number, type: string, m: number) => inbox[s]?.has(`${type}:${m}`) ?? false;
  for (const [s, op] of stageOps(S, M, here)) {
    const engine = engines[s] as StageEngine;
    const m = op.microbatch;
    const frame = inbox[s]?.get(`${op.type}:${m}`);
    if (op.type === 'forward') {
      const out = await engine.forward(step, m, { tokens, frame });
      if (!out.ok) throw new Error(out.error.message);
      if (out.value.type === 'loss') lossSum += out.value.loss;
      else inbox[s + 1]?.set(`forward:${m}`, out.value.bytes);
    } else {
      const out = await engine.backward(step, m, frame);
      if (!out.ok) throw new Error(out.error.message);
      if (out.value) inbox[s - 1]?.set(`backward:${m}`, out.value);
    }
  }

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
