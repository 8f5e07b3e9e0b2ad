// The baseline: the unsplit model (GpuGpt) trained on the pool's batches whole, one submission
// per step (forward, backward, clip, AdamW), no boundary and no microbatches. A pipeline with
// fp32 links computes the same steps up to the order of float additions
// (test/unit/pipeline/pipeline-equivalence.test.ts), which the 2- and 4-stage fp32 rows show.

import { createModel } from '../../../kernels/gpt/create-model.ts';
import type { TuneCache } from '../../../kernels/gpu/autotune.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import type { TrainConfig } from '../../../kernels/train/config.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import type { BatchPool } from './batch-pool.ts';
import { hyperAt } from './step-hyper.ts';

export interface UnsplitSetup {
  readonly ctx: GpuContext;
  readonly model: GptConfig;
  readonly pool: BatchPool;
  /** batchSize is the whole step's batch. */
  readonly train: TrainConfig;
  readonly init: Float32Array;
  readonly tuneCache: TuneCache;
  readonly onStep?: (step: number, loss: number) => void;
}

export async function trainUnsplit(setup: UnsplitSetup) {
  const { ctx, pool, train } = setup;
  const model = await createModel(ctx, setup.model, {
    B: train.batchSize,
    T: train.seqLen,
    params: setup.init,
    tuneCache: setup.tuneCache,
  });
  try {
    let tokens = 0;
    const losses: number[] = [];
    for (let step = 0; step < train.steps; step++) {
      const { batch } = pool.at(step);
      const loss = await model.trainStep(batch.inputs, batch.targets, hyperAt(step, train));
      if (!Number.isFinite(loss)) throw new Error(`unsplit: loss is ${loss} at step ${step + 1}`);
      tokens += batch.batchSize * batch.seqLen;
      losses.push(loss);
      setup.onStep?.(step + 1, loss);
    }
    return { weights: await model.readParams(), tokens, losses };
  } finally {
    model.destroy();
  }
}
