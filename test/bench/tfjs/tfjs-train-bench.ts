// Full training steps of the tfjs GPT, timed: tokens/s as a training loop that reads its loss
// every step would see them.
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { type TfjsGpt, tfjsTrainStep } from './tfjs-gpt.ts';
import type { Tfjs } from './tfjs-node-webgpu.ts';

/** A random batch: tokens = seq[:, :T], targets = seq[:, 1:], from a seeded xorshift32. */
export function randomBatch(
  tf: Tfjs,
  B: number,
  T: number,
  V: number,
  seed: number,
): { tokens: Tensor2D; targets: Tensor2D } {
  let s = seed >>> 0 || 1;
  const seq = new Int32Array(B * (T + 1));
  for (let i = 0; i < seq.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    seq[i] = s % V;
  }
  return tf.tidy(() => {
    const all = tf.tensor2d(seq, [B, T + 1], 'int32');
    return { tokens: tf.slice(all, [0, 0], [B, T]), targets: tf.slice(all, [0, 1], [B, T]) };
  });
}

export interface TrainStepResult {
  readonly tokensPerSec: number;
  readonly msPerStep: number;
  /** Loss of the last timed step. */
  readonly loss: number;
  /** Every step's loss, warm-up included, in order. */
  readonly losses: readonly number[];
  /** tf.memory().numTensors after the warm-up and after the timed steps: equal when nothing leaks. */
  readonly numTensors: { readonly afterWarmup: number; readonly afterTimed: number };
}

/**
 * Times `iters` training steps (forward, backward, clip, AdamW) on one fixed random batch,
 * after `warmup` untimed ones (at least one: it compiles every pipeline and creates Adam's
 * moments). Each step is waited for by reading its loss. The batch is uploaded once, before.
 */
export async function benchTfjsTrainStep(
  tf: Tfjs,
  model: TfjsGpt,
  batchSize: number,
  seqLen: number,
  { warmup, iters }: { readonly warmup: number; readonly iters: number },
): Promise<TrainStepResult> {
  if (seqLen > model.config.contextLength) {
    throw new RangeError(`seqLen ${seqLen} exceeds contextLength ${model.config.contextLength}`);
  }
  if (iters < 1) throw new RangeError(`iters must be at least 1, got ${iters}`);
  const { tokens, targets } = randomBatch(tf, batchSize, seqLen, model.config.vocabSize, 1234);
  const losses: number[] = [];
  const step = async () => {
    const loss = tfjsTrainStep(model, tokens, targets);
    const [value = Number.NaN] = await loss.data();
    loss.dispose();
    losses.push(value);
  };
  try {
    for (let i = 0; i < Math.max(1, warmup); i++) await step();
    const afterWarmup = tf.memory().numTensors;
    const start = performance.now();
    for (let i = 0; i < iters; i++) await step();
    const msPerStep = (performance.now() - start) / iters;
    return {
      tokensPerSec: (batchSize * seqLen * 1000) / msPerStep,
      msPerStep,
      loss: losses[losses.length - 1] ?? Number.NaN,
      losses,
      numTensors: { afterWarmup, afterTimed: tf.memory().numTensors },
    };
  } finally {
    tokens.dispose();
    targets.dispose();
  }
}
