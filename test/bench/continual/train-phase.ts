// One phase of a method: the project's trainer (kernels/train/trainer.ts) on the GPU model,
// from given weights with a fresh AdamW (a run that starts from a checkpoint gets its weights,
// not its optimizer's moments), at the phase's rate each step, on the phase's batches.
import type { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { TrainConfig } from '../../../kernels/train/config.ts';
import { type TrainData, Trainer } from '../../../kernels/train/trainer.ts';
import type { PhaseRate } from './schedules.ts';

export interface PhaseResult {
  readonly params: Float32Array;
  /** Tokens trained, the trainer's count. */
  readonly tokens: number;
}

export async function trainPhase(
  model: GpuGpt,
  base: TrainConfig,
  start: Float32Array,
  steps: number,
  rate: PhaseRate,
  data: TrainData,
): Promise<PhaseResult> {
  model.setParams(start);
  model.resetOptimizer();
  const trainer = new Trainer({ model, config: { ...base, steps }, now: () => performance.now() });
  while (!trainer.done) await trainer.trainStep({ data, learningRate: rate(trainer.step) });
  return { params: await model.readParams(), tokens: trainer.tokens };
}
