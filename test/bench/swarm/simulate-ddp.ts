// The data-parallel baseline (DDP): every step, every peer's gradient is all-reduced in
// fp32 and every replica takes the same AdamW step. With equal per-peer batches the mean of
// the peers' mean-loss gradients is exactly the gradient of the mean loss over their union,
// so one replica trained on the global batch (peer 0's windows, then peer 1's, ...) follows
// the same trajectory; it is simulated that way. Its traffic is that of the cheapest dense
// all-reduce, a ring: each peer sends 2 (P − 1) / P of the fp32 gradient per step.

import { createModel } from '../../../kernels/gpt/create-model.ts';
import type { TuneCache } from '../../../kernels/gpu/autotune.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import type { TrainConfig } from '../../../kernels/train/config.ts';
import { type RandomSplit, Trainer } from '../../../kernels/train/trainer.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { GlobalBatchData } from './peer-data.ts';

export interface DdpSetup {
  readonly ctx: GpuContext;
  readonly model: GptConfig;
  readonly shards: readonly RandomSplit[];
  /** Per-peer batch and the schedule; `steps` as given. */
  readonly train: TrainConfig;
  readonly init: Float32Array;
  readonly tuneCache: TuneCache;
  readonly onStep?: (step: number, loss: number) => void;
}

/** Bytes one peer sends in a ring all-reduce of `floats` fp32 values among `peers`. */
export function ringAllReduceBytes(floats: number, peers: number): number {
  return peers > 1 ? (2 * (peers - 1) * floats * 4) / peers : 0;
}

export async function simulateDdp(setup: DdpSetup) {
  const { ctx, shards, train } = setup;
  const P = shards.length;
  const global = { ...train, batchSize: train.batchSize * P };
  const model = await createModel(ctx, setup.model, {
    B: global.batchSize,
    T: global.seqLen,
    params: setup.init,
    tuneCache: setup.tuneCache,
  });
  try {
    const trainer = new Trainer({
      model,
      config: global,
      train: new GlobalBatchData(shards, train.seed),
      now: () => performance.now(),
    });
    const started = performance.now();
    while (!trainer.done) {
      const report = await trainer.trainStep();
      setup.onStep?.(report.step, report.loss);
    }
    return {
      weights: await model.readParams(),
      bytesPerPeer: train.steps * ringAllReduceBytes(model.layout.paramCount, P),
      tokens: trainer.tokens,
      paramCount: model.layout.paramCount,
      // One replica takes the global batch here; each of P peers would take a Pth of it.
      computeSecondsPerStep: (performance.now() - started) / 1000 / train.steps / P,
    };
  } finally {
    model.destroy();
  }
}
