// The claim the table rests on: a pipeline with fp32 links is the unsplit model. Before the
// rows, one batch goes through both, the unsplit GpuGpt and a 1-stage PipelineRunner with the
// bench's microbatches, and their losses and gradients are compared. They differ only in the
// order of float additions (microbatch sums), so the gap column measures the codecs alone.

import { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import type { TuningChoice } from '../../../kernels/ops/matmul-tuning.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { splitLayers } from '../../../protocol/stage-layout.ts';
import type { TokenBatch } from '../../../protocol/token-batch.ts';
import { PipelineRunner } from '../../helpers/pipeline/pipeline-runner.ts';

export interface OneStageCheck {
  readonly unsplitLoss: number;
  readonly pipelineLoss: number;
  /** Largest |pipeline − unsplit| over every parameter's gradient. */
  readonly gradMaxDiff: number;
  /** Largest |unsplit| gradient, for scale. */
  readonly gradMaxAbs: number;
}

export async function checkOneStage(
  ctx: GpuContext,
  model: GptConfig,
  params: Float32Array,
  batch: TokenBatch,
  microbatches: number,
  tuning: { readonly whole: TuningChoice; readonly microbatch: TuningChoice },
): Promise<OneStageCheck> {
  const unsplit = new GpuGpt(ctx, model, { B: batch.batchSize, T: batch.seqLen, matmul: tuning.whole });
  const runner = new PipelineRunner(ctx, model, {
    split: splitLayers(model.nLayer, 1),
    microbatchSize: batch.batchSize / microbatches,
    microbatches,
    T: batch.seqLen,
    matmul: tuning.microbatch,
  });
  try {
    unsplit.setParams(params);
    runner.setParams(params);
    const unsplitLoss = await unsplit.forwardBackward(batch.inputs, batch.targets);
    const pipelineLoss = (await runner.forwardBackward(batch)).loss;
    const want = await unsplit.readGrads();
    const got = await runner.readGrads();
    let gradMaxDiff = 0;
    let gradMaxAbs = 0;
    for (const [i, x] of want.entries()) {
      gradMaxDiff = Math.max(gradMaxDiff, Math.abs((got[i] as number) - x));
      gradMaxAbs = Math.max(gradMaxAbs, Math.abs(x));
    }
    return { unsplitLoss, pipelineLoss, gradMaxDiff, gradMaxAbs };
  } finally {
    unsplit.destroy();
    runner.destroy();
  }
}
