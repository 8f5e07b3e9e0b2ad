// One split row: the model cut into S stages (splitLayers), run by the PipelineRunner through
// the 1F1B schedule with every boundary tensor encoded into the frame a peer would send, on the
// pool's batches in the baseline's order and with the baseline's hyperparameters. Traffic is
// what the links counted, frame headers included, averaged over the boundaries and the run: the
// bytes per token one link carries each way. The tied embedding's per-step exchange between the
// first and last stage (its gradient down, its new weights up) is weights, not activations, and
// is reported apart.

import type { GpuContext } from '../../../kernels/gpu/context.ts';
import type { TuningChoice } from '../../../kernels/ops/matmul-tuning.ts';
import type { TrainConfig } from '../../../kernels/train/config.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { splitLayers } from '../../../protocol/stage-layout.ts';
import type { LinkCodecs } from '../../helpers/pipeline/activation-link.ts';
import { PipelineRunner } from '../../helpers/pipeline/pipeline-runner.ts';
import type { BatchPool } from './batch-pool.ts';
import { hyperAt } from './step-hyper.ts';

export interface PipelineSetup {
  readonly ctx: GpuContext;
  readonly model: GptConfig;
  readonly pool: BatchPool;
  /** batchSize is the whole step's batch: microbatches x the microbatch size. */
  readonly train: TrainConfig;
  readonly stages: number;
  readonly microbatches: number;
  readonly codecs: LinkCodecs;
  readonly blockSize: number;
  readonly init: Float32Array;
  /** Tuned for the microbatch's shapes. */
  readonly matmul: TuningChoice;
  readonly onStep?: (step: number, report: PipelineProgress) => void;
}

export interface PipelineProgress {
  readonly loss: number;
  /** Of this step's frames, the share sent as deltas, each way. */
  readonly deltaShare: { readonly forward: number; readonly backward: number };
}

export interface PipelineRun {
  readonly weights: Float32Array;
  readonly tokens: number;
  /** Per boundary, per token of the run, activations up. */
  readonly bytesPerTokenForward: number;
  /** Likewise, activation gradients down. */
  readonly bytesPerTokenBackward: number;
  /** Of all frames, the share sent as deltas, each way. */
  readonly deltaShare: { readonly forward: number; readonly backward: number };
  /** The tied embedding's bytes between the first and last stage, per step. */
  readonly tiedBytesPerStep: number;
  /** Each step's train loss (loss-spikes.ts looks for spikes in them). */
  readonly losses: readonly number[];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function trainPipeline(setup: PipelineSetup): Promise<PipelineRun> {
  const { ctx, pool, train, stages: S, microbatches: M } = setup;
  if (train.batchSize % M !== 0)
    throw new RangeError(`batch ${train.batchSize} does not split into ${M} microbatches`);
  const runner = new PipelineRunner(ctx, setup.model, {
    split: splitLayers(setup.model.nLayer, S),
    microbatchSize: train.batchSize / M,
    microbatches: M,
    T: train.seqLen,
    matmul: setup.matmul,
    codecs: setup.codecs,
    blockSize: setup.blockSize,
  });
  try {
    runner.setParams(setup.init);
    let tokens = 0;
    let forward = 0;
    let backward = 0;
    let tied = 0;
    const deltas = { forward: 0, backward: 0 };
    const losses: number[] = [];
    const framesPerStep = M * (S - 1);
    for (let step = 0; step < train.steps; step++) {
      const { batch, sampleIds } = pool.at(step);
      const report = await runner.trainStep(batch, hyperAt(step, train), sampleIds);
      if (!Number.isFinite(report.loss))
        throw new Error(`${S} stages: loss is ${report.loss} at step ${step + 1}`);
      // Every step has the same tokens, so the mean over steps is the run's bytes per token.
      forward += mean(report.forwardBytesPerToken);
      backward += mean(report.backwardBytesPerToken);
      tied += report.tiedBytes;
      tokens += report.tokens;
      const share = {
        forward: report.deltaFrames.reduce((n, d) => n + d.forward, 0) / framesPerStep,
        backward: report.deltaFrames.reduce((n, d) => n + d.backward, 0) / framesPerStep,
      };
      deltas.forward += share.forward;
      deltas.backward += share.backward;
      losses.push(report.loss);
      setup.onStep?.(step + 1, { loss: report.loss, deltaShare: share });
    }
    const steps = train.steps;
    return {
      weights: await runner.readParams(),
      tokens,
      bytesPerTokenForward: forward / steps,
      bytesPerTokenBackward: backward / steps,
      deltaShare: { forward: deltas.forward / steps, backward: deltas.backward / steps },
      tiedBytesPerStep: tied / steps,
      losses,
    };
  } finally {
    runner.destroy();
  }
}
