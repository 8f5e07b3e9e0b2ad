// Validation loss of a committed round state (a checkpoint file from the relay), on the GPU:
// how the end-to-end tests show that a swarm's committed model learned.

import { GpuGpt } from '../../kernels/gpt/gpu-gpt.ts';
import { defaultTuning } from '../../kernels/ops/matmul-tuning.ts';
import type { GptConfig } from '../../protocol/gpt-config.ts';
import { decodeRoundState } from '../../protocol/round-state-file.ts';
import { loadSplitTokens } from '../../relay/datasets/loader.ts';
import { MemorySplit } from './memory-split.ts';
import { nodeContext } from './node-context.ts';

/** Mean loss over the first `batches` validation batches of (B, T) of the dataset in `dataset`. */
export async function stateValidationLoss(
  model: GptConfig,
  stateBytes: Uint8Array,
  dataset: string,
  { B = 4, T = 32, batches = 16 } = {},
): Promise<number> {
  const ctx = await nodeContext();
  const decoded = await decodeRoundState(model, stateBytes, null);
  if (!decoded.ok) throw new Error(decoded.message);
  const val = new MemorySplit(await loadSplitTokens(dataset, 'val'), model.vocabSize);
  const gpt = new GpuGpt(ctx, model, { B, T, matmul: defaultTuning(ctx.adapter) });
  try {
    gpt.setParams(decoded.state.weights);
    let sum = 0;
    let n = 0;
    for (const batch of val.evalBatches(B, T)) {
      if (n === batches) break;
      sum += await gpt.evaluate(batch.inputs, batch.targets);
      n++;
    }
    return sum / n;
  } finally {
    gpt.destroy();
  }
}
