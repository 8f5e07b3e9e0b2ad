// The tfjs GPT used as the benchmark's baseline must be the same model as ours: checked against
// the CPU reference (kernels/reference/gpt.ts) for loss, gradients and one optimizer step, and
// for the behaviour any GPT shows (ln V at init, causality, learning a repeated batch).
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { adamwStep } from '../../../kernels/reference/adamw.ts';
import { CpuGpt } from '../../../kernels/reference/gpt.ts';
import { clipScale, globalNorm } from '../../../kernels/reference/gradnorm.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import {
  createTfjsGpt,
  readTfjsParams,
  type TfjsGpt,
  type TfjsOptim,
  tfjsGptLogits,
  tfjsGptLoss,
  tfjsTrainStep,
} from '../../bench/tfjs/tfjs-gpt.ts';
import { benchTfjsTrainStep, randomBatch } from '../../bench/tfjs/tfjs-train-bench.ts';
import { expectClose } from '../../helpers/compare.ts';
import { tfjsContext } from './tfjs-context.ts';

const TINY: GptConfig = { vocabSize: 64, contextLength: 16, dModel: 32, nLayer: 2, nHead: 2 };
const B = 3;
const T = 16;
/** Clip at 0.5 so that the clip really scales the first step's gradients. */
const OPTIM: TfjsOptim = {
  learningRate: 1e-2,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.1,
  gradClip: 0.5,
};

/** Gradients of the loss for every parameter, as a flat buffer in the layout. */
async function tfjsGrads(model: TfjsGpt, tokens: Tensor2D, targets: Tensor2D): Promise<Float32Array> {
  const { tf } = await tfjsContext();
  const layout = paramLayout(model.config);
  const { grads, value } = tf.variableGrads(
    () => tfjsGptLoss(model, tokens, targets),
    [...model.params.values()],
  );
  const flat = new Float32Array(layout.totalFloats);
  for (const spec of layout.tensors) {
    const variable = model.params.get(spec.name);
    flat.set(await (grads[variable?.name ?? ''] as Tensor).data(), spec.offset);
  }
  tf.dispose([value, grads]);
  return flat;
}

describe('tfjs GPT', () => {
  it('matches the CPU reference: loss, gradients and one clipped AdamW step', async () => {
    const { tf } = await tfjsContext();
    // A wider init than GPT-2's so that logits and gradients are far from trivial.
    const params = initParams(TINY, 7, { std: 0.1 });
    const model = createTfjsGpt(tf, TINY, params, OPTIM);
    const { tokens, targets } = randomBatch(tf, B, T, TINY.vocabSize, 5);
    const inputs = await tokens.data();
    const wanted = await targets.data();

    const cpu = new CpuGpt(TINY, params.slice());
    const forward = cpu.forward(inputs, wanted, B, T);
    const loss = tf.tidy(() => tfjsGptLoss(model, tokens, targets));
    const [got = Number.NaN] = await loss.data();
    loss.dispose();
    console.log(`loss tfjs ${got} cpu ${forward.loss}`);
    expect(Math.abs(got - forward.loss)).toBeLessThan(1e-4 * forward.loss);

    const cpuGrads = cpu.backward(forward);
    expectClose('gradients', await tfjsGrads(model, tokens, targets), cpuGrads, 1e-4);

    // One step on both sides, from the same parameters.
    const layout = paramLayout(TINY);
    const expected = params.slice();
    const n = layout.totalFloats;
    const hyper = { ...OPTIM, lr: OPTIM.learningRate, step: 1, decayEnd: layout.decayEnd };
    const gradScale = clipScale(globalNorm(cpuGrads), OPTIM.gradClip);
    expect(gradScale).toBeLessThan(1);
    adamwStep(expected, cpuGrads, new Float32Array(n), new Float32Array(n), n, { ...hyper, gradScale });
    tfjsTrainStep(model, tokens, targets).dispose();
    const after = await readTfjsParams(model);
    // Adam's first step is lr * sign(g): where |g| is at fp32 noise level the sign is a coin
    // toss, so compare only where the gradient is clearly non-zero.
    const maxGrad = Math.max(...Array.from(cpuGrads, Math.abs));
    const keep = (_: number, i: number) => Math.abs(cpuGrads[i] as number) > 1e-3 * maxGrad;
    expectClose('params after one step', after.filter(keep), expected.filter(keep), 1e-5);

    tf.dispose([tokens, targets]);
    model.dispose();
  });

  it('starts near ln(V) with GPT-2 init and is causal', async () => {
    const { tf } = await tfjsContext();
    const model = createTfjsGpt(tf, TINY, 1, OPTIM);
    const { tokens, targets } = randomBatch(tf, B, T, TINY.vocabSize, 9);
    const loss = tf.tidy(() => tfjsGptLoss(model, tokens, targets));
    const [initial = Number.NaN] = await loss.data();
    console.log(`initial loss ${initial}, ln V = ${Math.log(TINY.vocabSize)}`);
    expect(Math.abs(initial - Math.log(TINY.vocabSize))).toBeLessThan(0.1);

    // Changing the last token of every sequence must leave every earlier position's logits alone.
    const changed = tf.tidy(() =>
      tf.concat([tf.slice(tokens, [0, 0], [B, T - 1]), tf.fill([B, 1], TINY.vocabSize - 1, 'int32')], 1),
    ) as Tensor2D;
    const logits = [tokens, changed].map((input) => tf.tidy(() => tfjsGptLogits(model, input)));
    const [before, after] = await Promise.all(logits.map((l) => l.data()));
    const V = TINY.vocabSize;
    let earlier = 0;
    let last = 0;
    for (let i = 0; i < T * B * V; i++) {
      const d = Math.abs((before?.[i] as number) - (after?.[i] as number));
      if (Math.floor(i / V) % T === T - 1) last = Math.max(last, d);
      else earlier = Math.max(earlier, d);
    }
    expect(earlier).toBeLessThan(1e-6);
    expect(last).toBeGreaterThan(1e-4);

    tf.dispose([loss, tokens, targets, changed, ...logits]);
    model.dispose();
  });

  it('learns a repeated batch without leaking tensors', async () => {
    const { tf } = await tfjsContext();
    const baseline = tf.memory().numTensors;
    const model = createTfjsGpt(tf, TINY, 2, OPTIM);
    const result = await benchTfjsTrainStep(tf, model, B, T, { warmup: 2, iters: 10 });
    console.log(
      `tiny step ${result.msPerStep.toFixed(0)} ms, losses ${result.losses.map((l) => l.toFixed(3)).join(' ')}, ` +
        `tensors ${result.numTensors.afterWarmup} -> ${result.numTensors.afterTimed}`,
    );
    expect(result.loss).toBeLessThan(0.7 * (result.losses[0] as number));
    expect(result.numTensors.afterTimed).toBe(result.numTensors.afterWarmup);
    model.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
