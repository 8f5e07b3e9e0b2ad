// Each method's learning rate per step of a phase. Cosine is the project's own
// (protocol/learning-rate.ts); the infinite schedule (Ibrahim et al. 2024, section 7) is one
// schedule over the whole A-then-B run: warmup to the peak, cooldown to a constant, a stable
// phase at the constant that crosses from A to B without re-warming, and an anneal to the floor
// at the end.
import { learningRateAt } from '../../../protocol/learning-rate.ts';

/** The rate of 0-based step `t` of a phase. */
export type PhaseRate = (t: number) => number;

export interface PeakSettings {
  /** Peak rate. */
  readonly learningRate: number;
  /** The floor is learningRate × minLrRatio. */
  readonly minLrRatio: number;
  readonly warmupSteps: number;
}

/** Warmup then cosine to the floor at `steps`: training from scratch, and re-warm + re-decay. */
export function cosinePhase(s: PeakSettings, steps: number): PhaseRate {
  const schedule = {
    learningRate: s.learningRate,
    minLrRatio: s.minLrRatio,
    warmup: s.warmupSteps,
    total: steps,
  };
  return (t) => learningRateAt(t, { ...schedule, ramp: 'to-peak' });
}

/** No re-warm: B trains at the floor A's cosine ended on. */
export function floorPhase(s: PeakSettings): PhaseRate {
  return () => s.learningRate * s.minLrRatio;
}

export interface InfiniteSettings extends PeakSettings {
  /** The stable phase's rate is learningRate × constantRatio. */
  readonly constantRatio: number;
  /** Steps of cosine cooldown from the peak to the constant, after the warmup. */
  readonly cooldownSteps: number;
  /** Steps of linear anneal from the constant to the floor, at the very end. */
  readonly annealSteps: number;
}

/** The infinite schedule's rate at 0-based step `t` of a run of `total` steps (A and B together). */
export function infiniteRate(t: number, s: InfiniteSettings, total: number): number {
  const peak = s.learningRate;
  const constant = peak * s.constantRatio;
  const floor = peak * s.minLrRatio;
  if (t < s.warmupSteps) return (peak * (t + 1)) / s.warmupSteps;
  const cooled = t - s.warmupSteps;
  if (cooled < s.cooldownSteps) {
    return constant + 0.5 * (1 + Math.cos((Math.PI * cooled) / s.cooldownSteps)) * (peak - constant);
  }
  const annealStart = total - s.annealSteps;
  if (t < annealStart) return constant;
  return constant + ((t + 1 - annealStart) / s.annealSteps) * (floor - constant);
}

/** The infinite schedule's A phase (steps 0 .. aSteps − 1) and B phase (the rest). */
export function infinitePhases(
  s: InfiniteSettings,
  aSteps: number,
  bSteps: number,
): { a: PhaseRate; b: PhaseRate } {
  const total = aSteps + bSteps;
  return { a: (t) => infiniteRate(t, s, total), b: (t) => infiniteRate(aSteps + t, s, total) };
}
