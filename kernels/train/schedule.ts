// Learning-rate schedule: linear warmup then cosine decay to a floor (nanoGPT's get_lr).
import type { TrainConfig } from './config.ts';

type ScheduleConfig = Pick<TrainConfig, 'learningRate' | 'warmupSteps' | 'minLrRatio' | 'steps'>;

/** Learning rate for 0-based `step`. */
export function learningRateAt(step: number, c: ScheduleConfig): number {
  const minLr = c.learningRate * c.minLrRatio;
  if (step < c.warmupSteps) return (c.learningRate * (step + 1)) / c.warmupSteps;
  const decaySteps = Math.max(1, c.steps - c.warmupSteps);
  const progress = Math.min(1, (step - c.warmupSteps) / decaySteps);
  return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (c.learningRate - minLr);
}
