// One training configuration object, nanoGPT style: every default with the reason for it. The
// train command's defaults are a run's (protocol/run-config.ts) where both have the setting.
import type { GptConfig } from '../../protocol/gpt-config.ts';
import type { LearningRateSchedule } from '../../protocol/learning-rate.ts';
import { DEFAULT_RUN } from '../../protocol/run-config.ts';

export interface TrainConfig {
  readonly model: GptConfig;
  /** Sequences per step. */
  readonly batchSize: number;
  /** Tokens per sequence; at most model.contextLength. */
  readonly seqLen: number;
  /** Optimizer steps to take. */
  readonly steps: number;
  /** Peak learning rate, reached after warmup. */
  readonly learningRate: number;
  /** Linear warmup from lr/warmupSteps to the peak. */
  readonly warmupSteps: number;
  /** Cosine decay ends at learningRate * minLrRatio on the last step. */
  readonly minLrRatio: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Decoupled weight decay on 2-D weights (see protocol/param-layout.ts). */
  readonly weightDecay: number;
  /** Global gradient-norm clip; 0 disables it. */
  readonly gradClip: number;
  /** Validate every this many steps (and at the end). */
  readonly evalEvery: number;
  /** Validation batches per evaluation. */
  readonly evalBatches: number;
  /** Seeds weight init and batch sampling. */
  readonly seed: number;
}

const { inner } = DEFAULT_RUN;

export const DEFAULT_TRAIN: TrainConfig = {
  model: DEFAULT_RUN.model,
  batchSize: 16, // 16 x 64 = 1024 tokens per step
  seqLen: inner.seqLen, // the whole default context
  steps: 600, // a few minutes on SwiftShader; far more on a real GPU
  learningRate: inner.learningRate,
  warmupSteps: 30, // ~5% of the default run: keeps Adam's early updates sane
  minLrRatio: inner.minLrRatio,
  beta1: inner.beta1,
  beta2: inner.beta2,
  eps: inner.eps,
  weightDecay: inner.weightDecay,
  gradClip: inner.gradClip,
  evalEvery: 100,
  evalBatches: 8,
  seed: DEFAULT_RUN.seed,
};

/** The learning-rate schedule of a train command's run: warmup and decay counted in steps. */
export function trainSchedule(c: TrainConfig): LearningRateSchedule {
  return {
    learningRate: c.learningRate,
    minLrRatio: c.minLrRatio,
    warmup: c.warmupSteps,
    total: c.steps,
    ramp: 'to-peak',
  };
}
