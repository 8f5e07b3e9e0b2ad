// Each method's learning rate per step of a phase, from the schedules runs use
// (protocol/learning-rate.ts). The infinite schedule (Ibrahim et al. 2024, section 7) is one
// schedule over the whole A-then-B run: warmup, a cosine down to the plateau within A, the
// plateau crossing from A to B without re-warming, and the anneal to the floor at the end of B.
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
    kind: 'cosine' as const,
    learningRate: s.learningRate,
    minLrRatio: s.minLrRatio,
    warmup: s.warmupSteps,
    total: steps,
    ramp: 'to-peak' as const,
  };
  return (t) => learningRateAt(t, schedule);
}

/** No re-warm: B trains at the floor A's cosine ended on. */
export function floorPhase(s: PeakSettings): PhaseRate {
  return () => s.learningRate * s.minLrRatio;
}

export interface InfiniteSettings extends PeakSettings {
  /** The plateau's rate is learningRate × plateauRatio. */
  readonly plateauRatio: number;
  /** Steps of cosine from the peak down to the plateau, after the warmup (within A). */
  readonly decaySteps: number;
  /** Steps of anneal from the plateau to the floor, at the very end of B. */
  readonly annealSteps: number;
}

/** The infinite schedule's A phase (steps 0 .. aSteps − 1) and B phase (the rest). */
export function infinitePhases(
  s: InfiniteSettings,
  aSteps: number,
  bSteps: number,
): { a: PhaseRate; b: PhaseRate } {
  const schedule = {
    kind: 'infinite' as const,
    learningRate: s.learningRate,
    minLrRatio: s.minLrRatio,
    warmup: s.warmupSteps,
    ramp: 'to-peak' as const,
    decay: s.decaySteps,
    plateauRatio: s.plateauRatio,
    cooldown: s.annealSteps,
    // The operator's cooldown, said in advance here: the last annealSteps of the run.
    cooldownStart: aSteps + bSteps - s.annealSteps,
  };
  return { a: (t) => learningRateAt(t, schedule), b: (t) => learningRateAt(aSteps + t, schedule) };
}
