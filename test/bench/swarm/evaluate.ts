// Validation loss of a set of weights on a fixed list of validation batches: every method in
// the swarm table is scored by the same model shape on the same tokens.
import type { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { EvalData } from '../../../kernels/train/trainer.ts';

export async function validationLoss(
  model: GpuGpt,
  weights: Float32Array,
  val: EvalData,
  maxBatches: number,
): Promise<number> {
  model.setParams(weights);
  let sum = 0;
  let count = 0;
  for (const batch of val.evalBatches(model.B, model.T)) {
    if (count >= maxBatches) break;
    sum += await model.evaluate(batch.inputs, batch.targets);
    count++;
  }
  if (count === 0) throw new RangeError('the validation split holds no full batch');
  return sum / count;
}
