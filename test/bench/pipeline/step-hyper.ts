// AdamW's settings for one step, as the Trainer (kernels/train/trainer.ts) builds them: the
// warmup + cosine schedule's rate and the config's betas, decay and clip. The unsplit baseline
// and every pipeline take exactly these, step for step.

import type { AdamWHyperparameters } from '../../../kernels/ops/adamw.ts';
import { type TrainConfig, trainSchedule } from '../../../kernels/train/config.ts';
import { learningRateAt } from '../../../protocol/learning-rate.ts';

/** The hyperparameters of 0-based `step`. */
export function hyperAt(step: number, train: TrainConfig): AdamWHyperparameters {
  return {
    lr: learningRateAt(step, trainSchedule(train)),
    beta1: train.beta1,
    beta2: train.beta2,
    eps: train.eps,
    weightDecay: train.weightDecay,
    step: step + 1,
    maxNorm: train.gradClip,
  };
}
