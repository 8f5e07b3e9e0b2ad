// The learning-rate schedules every trainer follows. `t` counts optimizer steps for the train
// command and pipeline runs, and rounds for a DiLoCo run's volunteers (the relay computes the
// round's rate and sends it with the work). Every schedule starts with the same linear warmup;
// then:
//   cosine    decay to the floor by `total` (nanoGPT's get_lr): a run whose length is known.
//   wsd       warmup-stable-decay (Hägele et al. 2024, "Scaling Laws and Compute-Optimal Training
//             Beyond Fixed Training Durations"): the peak until the cooldown begins, then a
//             1-sqrt cooldown to the floor. 1-sqrt rather than linear because in the paper's
//             comparison of cooldown shapes it reached a lower loss than linear: it leaves the
//             peak fast and spends longer near the floor, where the loss drops most.
//   infinite  Ibrahim et al. 2024, "Simple and Scalable Strategies to Continually Pre-train
//             Large Language Models": a cosine from the peak down to a plateau, the plateau for
//             as long as the run goes on (new data can keep arriving without re-warming), and an
//             exponential anneal from the plateau to the floor at the end.
// Neither wsd nor infinite needs to know when the run ends: their cooldown begins at a round the
// config names or when the operator says so (relay/rounds/cooldown-record.ts).

import { unreachable } from './unreachable.ts';

interface Warmup {
  /** Peak rate, reached when the warmup ends. */
  readonly learningRate: number;
  /** The floor every schedule decays to: learningRate * minLrRatio. */
  readonly minLrRatio: number;
  /** Steps (or rounds) of linear warmup. */
  readonly warmup: number;
  /**
   * How the warmup ramp is counted: 'to-peak' climbs lr/warmup, 2·lr/warmup, ... and reaches the
   * peak on the ramp's last step (the train command's convention); 'below-peak' climbs
   * lr/(warmup+1), ... and reaches the peak on the first step after it (nanoGPT's current
   * get_lr, which run configs follow). Kept apart so neither's losses move.
   */
  readonly ramp: 'to-peak' | 'below-peak';
}

export interface CosineSchedule extends Warmup {
  /** Absent in the schedules written before the others existed: the same cosine. */
  readonly kind?: 'cosine';
  /** The step (or round) at which the cosine reaches its floor. */
  readonly total: number;
}

/** The cooldown the open-ended schedules end with. */
interface Cooldown {
  /** Steps (or rounds) from the cooldown's start to the floor, the last of them at the floor. */
  readonly cooldown: number;
  /** The step it was asked to begin at (config or operator); null: not yet asked. */
  readonly cooldownStart: number | null;
}

export interface WsdSchedule extends Warmup, Cooldown {
  readonly kind: 'wsd';
}

export interface InfiniteSchedule extends Warmup, Cooldown {
  readonly kind: 'infinite';
  /** Steps of the cosine from the peak down to the plateau, right after the warmup. */
  readonly decay: number;
  /** The plateau is learningRate * plateauRatio. */
  readonly plateauRatio: number;
}

export type LearningRateSchedule = CosineSchedule | WsdSchedule | InfiniteSchedule;

/** Whether `s` ends with a cooldown that someone starts, rather than at a known total. */
export function isOpenEnded(s: LearningRateSchedule): s is WsdSchedule | InfiniteSchedule {
  return s.kind === 'wsd' || s.kind === 'infinite';
}

/** Where an open-ended schedule's stable rate begins: the cooldown never starts before it. */
export function stableFrom(s: WsdSchedule | InfiniteSchedule): number {
  return s.kind === 'wsd' ? s.warmup : s.warmup + s.decay;
}

/** The step the cooldown actually begins at (never inside the warmup or the decay); null: not yet. */
export function cooldownBegins(s: WsdSchedule | InfiniteSchedule): number | null {
  return s.cooldownStart === null ? null : Math.max(s.cooldownStart, stableFrom(s));
}

/** How far through its cooldown step `t` is, in (0, 1]; 0 before the cooldown. */
function cooldownProgress(t: number, s: WsdSchedule | InfiniteSchedule): number {
  const from = cooldownBegins(s);
  if (from === null || t < from) return 0;
  // The first cooldown step already moves (an operator's trigger shows in the next round), and
  // the last of `cooldown` steps lands on the floor.
  return Math.min(1, (t - from + 1) / s.cooldown);
}

/** The learning rate of 0-based step (or round) `t`. */
export function learningRateAt(t: number, s: LearningRateSchedule): number {
  const peak = s.learningRate;
  const minLr = peak * s.minLrRatio;
  if (t < s.warmup) return (peak * (t + 1)) / (s.ramp === 'to-peak' ? s.warmup : s.warmup + 1);
  switch (s.kind) {
    case undefined:
    case 'cosine': {
      const decay = Math.max(1, s.total - s.warmup);
      const progress = Math.min(1, (t - s.warmup) / decay);
      return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (peak - minLr);
    }
    case 'wsd':
      return minLr + (peak - minLr) * (1 - Math.sqrt(cooldownProgress(t, s)));
    case 'infinite': {
      const plateau = peak * s.plateauRatio;
      if (t < s.warmup + s.decay)
        return plateau + 0.5 * (peak - plateau) * (1 + Math.cos((Math.PI * (t - s.warmup)) / s.decay));
      return plateau * (minLr / plateau) ** cooldownProgress(t, s);
    }
    default:
      return unreachable(s, 'learning-rate schedule');
  }
}
