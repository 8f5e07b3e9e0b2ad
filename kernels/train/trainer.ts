// The training loop, shared by the Node command and the browser worker. It reads like
// nanoGPT's train.py: per step, the schedule, then forward + backward + clip + AdamW (one GPU
// submission, see GpuGpt.trainStep), then what to log; validation on request.
import { learningRateAt } from '../../protocol/learning-rate.ts';
import type { TokenBatch } from '../../protocol/token-batch.ts';
import type { GpuGpt } from '../gpt/gpu-gpt.ts';
import { type TrainConfig, trainSchedule } from './config.ts';

/** Where training batches come from, in the order they are trained on. */
export interface TrainData {
  sampleBatch(batchSize: number, seqLen: number): TokenBatch;
}

/** A split that draws random windows (shard files in Node, memory in the browser). */
export interface RandomSplit {
  sampleBatch(batchSize: number, seqLen: number, rng: { nextBelow(n: number): number }): TokenBatch;
}

/** Batches drawn from `split` with `rng` (nanoGPT's get_batch): the seed fixes the batch order. */
export function randomBatches(split: RandomSplit, rng: { nextBelow(n: number): number }): TrainData {
  return { sampleBatch: (batchSize, seqLen) => split.sampleBatch(batchSize, seqLen, rng) };
}

/**
 * What one step may take from its caller instead of the trainer's own: a volunteer trains each
 * round on the range the relay assigned it, at the learning rate the relay computed for the
 * round (relay/run/run-config.ts).
 */
export interface StepInputs {
  readonly data: TrainData;
  readonly learningRate: number;
}

/** Where validation batches come from: the same fixed windows every time. */
export interface EvalData {
  evalBatches(batchSize: number, seqLen: number): Iterable<TokenBatch>;
  evalBatchCount(batchSize: number, seqLen: number): number;
}

export interface StepReport {
  /** Steps completed, 1-based. */
  readonly step: number;
  /** Mean training loss of this step's batch, before the update. */
  readonly loss: number;
  readonly lr: number;
  /** Tokens per second of this step, wall clock. */
  readonly tokensPerSec: number;
  /** Tokens trained on so far. */
  readonly tokens: number;
}

export interface TrainerOptions {
  readonly model: GpuGpt;
  readonly config: TrainConfig;
  /** Every step's batches, unless the step is given its own (StepInputs). */
  readonly train?: TrainData;
  /** Milliseconds; injected so tests and workers choose their clock. */
  readonly now: () => number;
}

export class Trainer {
  /** Steps completed. */
  step = 0;
  tokens = 0;

  constructor(private readonly options: TrainerOptions) {
    const { model, config } = options;
    if (model.B !== config.batchSize || model.T !== config.seqLen) {
      throw new RangeError(
        `model was built for (${model.B}, ${model.T}), config says (${config.batchSize}, ${config.seqLen})`,
      );
    }
  }

  get done(): boolean {
    return this.step >= this.options.config.steps;
  }

  /**
   * One optimizer step on the next batch: the trainer's own at the config's warmup + cosine
   * schedule, or `inputs`' at its learning rate.
   */
  async trainStep(inputs?: StepInputs): Promise<StepReport> {
    const { model, config, now } = this.options;
    const start = now();
    // 1. schedule
    const lr = inputs ? inputs.learningRate : learningRateAt(this.step, trainSchedule(config));
    // 2. data
    const train = inputs?.data ?? this.options.train;
    if (!train) throw new Error('no tokens assigned');
    const batch = train.sampleBatch(config.batchSize, config.seqLen);
    // 3. forward, backward, clip, AdamW: one submission
    const loss = await model.trainStep(batch.inputs, batch.targets, {
      lr,
      beta1: config.beta1,
      beta2: config.beta2,
      eps: config.eps,
      weightDecay: config.weightDecay,
      step: this.step + 1,
      maxNorm: config.gradClip,
    });
    if (!Number.isFinite(loss))
      throw new Error(`loss is ${loss} at step ${this.step + 1}: training diverged`);
    // 4. bookkeeping for the log
    this.step++;
    const tokens = config.batchSize * config.seqLen;
    this.tokens += tokens;
    const seconds = Math.max(1e-9, (now() - start) / 1000);
    return { step: this.step, loss, lr, tokensPerSec: tokens / seconds, tokens: this.tokens };
  }

  /** Mean loss over the first `maxBatches` validation batches (all of them if fewer). */
  async validate(data: EvalData, maxBatches = this.options.config.evalBatches): Promise<number> {
    const { model, config } = this.options;
    let sum = 0;
    let count = 0;
    for (const batch of data.evalBatches(config.batchSize, config.seqLen)) {
      if (count >= maxBatches) break;
      sum += await model.evaluate(batch.inputs, batch.targets);
      count++;
    }
    if (count === 0) throw new RangeError('the validation split holds no full batch');
    return sum / count;
  }
}
