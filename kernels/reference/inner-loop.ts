// CPU reference of one volunteer round (kernels/round/round-engine.ts): from θ_r and the peer's
// own state (AdamW moments and step count, error-feedback residual), the inner AdamW steps over
// the assigned tokens in the engine's order (kernels/train/assigned-range.ts), then the value
// the compressor frames, acc = θ_r − θ_local + residual, and the frame's payload with the
// peer's own rounding stream. The relay runs it to redo a round it checks
// (relay/rounds/work-check.ts); GPU-less test peers run it to do real work.

import { dequantize } from '../../protocol/quantize.ts';
import { deriveSeed } from '../../protocol/random-k.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import type { CompressedTensor } from '../compress/compressed-tensor.ts';
import { adamwStep } from './adamw.ts';
import { accumulateReference, compressReference } from './compress.ts';
import { CpuGpt } from './gpt.ts';
import { clipScale, globalNorm } from './gradnorm.ts';

/** What a peer's own state holds at the start of a round (protocol/local-state-file.ts). */
export interface InnerStart {
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly residual: Float32Array;
  readonly step: number;
}

export interface InnerWork {
  /** θ_r. */
  readonly weights: Float32Array;
  /** The assigned range's tokens. */
  readonly tokens: ArrayLike<number>;
  readonly innerSteps: number;
  readonly learningRate: number;
  /** The round's seed: random-k's candidates. */
  readonly seed: number;
  /** The peer's rounding stream (protocol/noise-stream.ts). */
  readonly noiseStream: number;
}

export interface InnerResult {
  /** What the compressor frames: θ_r − θ_local + residual. */
  readonly acc: Float32Array;
  readonly payload: CompressedTensor;
  /** θ_r − θ_local alone: the round's own work. */
  readonly delta: Float32Array;
  /** The optimizer state after the round (the residual is the caller's: it depends on the frame). */
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly step: number;
  /** The largest squared norm of a step's gradient after clipping. */
  readonly maxGradNormSquared: number;
}

/**
 * `gradients: false` runs the same steps with every gradient zero: what the round would send if
 * the optimizer's state alone decided it, so the relay can tell a frame that needed the work
 * from one its state predicts (relay/rounds/work-check.ts).
 */
export function innerLoopReference(
  config: RunConfig,
  start: InnerStart,
  work: InnerWork,
  { gradients = true }: { gradients?: boolean } = {},
): InnerResult {
  const { inner, model, round } = config;
  const { batchSize: B, seqLen: T } = inner;
  const params = work.weights.slice();
  const m = start.m.slice();
  const v = start.v.slice();
  const gpt = new CpuGpt(model, params);
  const inputs = new Uint32Array(B * T);
  const targets = new Uint32Array(B * T);
  const windows = Math.floor((work.tokens.length - 1) / T);
  if (windows < 1) throw new RangeError(`${work.tokens.length} tokens hold no window of ${T + 1}`);
  let step = start.step;
  let maxGradNormSquared = 0;
  for (let h = 0; h < work.innerSteps; h++) {
    for (let b = 0; b < B; b++) {
      const offset = ((h * B + b) % windows) * T;
      for (let t = 0; t < T; t++) {
        inputs[b * T + t] = work.tokens[offset + t] as number;
        targets[b * T + t] = work.tokens[offset + t + 1] as number;
      }
    }
    const grads = gradients
      ? gpt.backward(gpt.forward(inputs, targets, B, T))
      : new Float32Array(params.length);
    const norm = globalNorm(grads);
    const gradScale = clipScale(norm, inner.gradClip);
    maxGradNormSquared = Math.max(maxGradNormSquared, (norm * gradScale) ** 2);
    step++;
    adamwStep(params, grads, m, v, params.length, {
      lr: work.learningRate,
      beta1: inner.beta1,
      beta2: inner.beta2,
      eps: inner.eps,
      weightDecay: inner.weightDecay,
      step,
      decayEnd: gpt.layout.decayEnd,
      gradScale,
    });
  }
  const acc = accumulateReference(work.weights, params, start.residual);
  const delta = accumulateReference(work.weights, params, new Float32Array(params.length));
  const { codes: _, ...payload } = compressReference(
    acc.slice(),
    round.compression,
    work.seed,
    deriveSeed(work.seed, work.noiseStream),
  );
  return { acc, payload, delta, m, v, step, maxGradNormSquared };
}

/**
 * The residual a peer keeps after sending `payload`: acc less what the frame carries, times
 * the run's error decay β (the GPU's compress_error_feedback.wgsl, operation for operation).
 */
export function residualAfter(
  acc: Float32Array,
  payload: CompressedTensor,
  errorDecay: number,
): Float32Array {
  const beta = Math.fround(errorDecay);
  const residual = acc.map((a) => Math.fround(beta * a));
  const { words, scales, bits, blockSize, indices } = payload;
  const sent = dequantize(words, scales, bits, blockSize, indices.length);
  indices.forEach((index, j) => {
    residual[index] = Math.fround(beta * Math.fround((acc[index] as number) - (sent[j] as number)));
  });
  return residual;
}
