// One training configuration object, nanoGPT style: every default with the reason for it.
import { DEFAULT_MODEL, type GptConfig } from '../gpt/config.ts';

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
  /** Decoupled weight decay on 2-D weights (see kernels/gpt/layout.ts). */
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

export const DEFAULT_TRAIN: TrainConfig = {
  model: DEFAULT_MODEL,
  batchSize: 16, // 16 x 64 = 1024 tokens per step
  seqLen: 64, // the whole default context
  steps: 600, // a few minutes on SwiftShader; far more on a real GPU
  learningRate: 3e-3, // small models tolerate (and need) a high rate to learn in few steps
  warmupSteps: 30, // ~5% of the default run: keeps Adam's early updates sane
  minLrRatio: 0.1, // as in nanoGPT/Chinchilla: decay to 10% of the peak
  beta1: 0.9,
  beta2: 0.95, // GPT-3's choice: steadier for small batches than 0.999
  eps: 1e-8,
  weightDecay: 0.1, // GPT-3 / nanoGPT
  gradClip: 1.0, // GPT-2/3 global-norm clip
  evalEvery: 100,
  evalBatches: 8,
  seed: 1337,
};
