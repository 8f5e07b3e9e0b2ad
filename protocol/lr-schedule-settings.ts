// The run config's `inner.lrSchedule`: which learning-rate schedule a DiLoCo run's inner AdamW
// follows over rounds (protocol/learning-rate.ts has the formulas). Absent, the run keeps the
// cosine over totalRounds, and its config (and so its id) is what it was before schedules could
// be chosen. 'wsd' and 'infinite' are for runs that do not know their length (a volunteer run
// rarely does): totalRounds does not bound them. Their cooldown begins at `cooldownAt` if the
// config names it, or earlier when the operator says so (`npm run cooldown`,
// POST /api/runs/:id/cooldown); a run meant to end at totalRounds says so with
// cooldownAt = totalRounds − cooldownRounds.

import * as v from 'valibot';
import { cooldownBegins, isOpenEnded, type LearningRateSchedule, stableFrom } from './learning-rate.ts';

/** No schedule length beyond this many rounds: years of rounds, and far from float trouble. */
export const MAX_SCHEDULE_ROUNDS = 10_000_000;

const Rounds = v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_SCHEDULE_ROUNDS));

const WsdSchema = v.object({
  kind: v.literal('wsd'),
  /** Rounds from the cooldown's first to the floor (1-sqrt); in Hägele et al. ~20% of a run matched the cosine. */
  cooldownRounds: v.pipe(Rounds, v.minValue(1)),
  /** The round the cooldown begins at, unless the operator starts it earlier; absent: the operator's call. */
  cooldownAt: v.optional(Rounds),
});

const InfiniteSchema = v.object({
  kind: v.literal('infinite'),
  /** Rounds of the cosine from the peak down to the plateau, after the warmup (0: straight to it). */
  decayRounds: Rounds,
  /** The plateau as a share of the peak; it must lie above the floor (inner.minLrRatio). */
  plateauRatio: v.pipe(v.number(), v.finite(), v.gtValue(0), v.maxValue(1)),
  /** Rounds of the exponential anneal from the plateau to the floor (the paper's annealing phase). */
  cooldownRounds: v.pipe(Rounds, v.minValue(1)),
  /** As wsd's: the anneal's first round, unless the operator starts it earlier. */
  cooldownAt: v.optional(Rounds),
});

export const LrScheduleSchema = v.variant('kind', [
  v.object({ kind: v.literal('cosine') }),
  WsdSchema,
  InfiniteSchema,
]);
export type LrScheduleSettings = v.InferOutput<typeof LrScheduleSchema>;

/** What the schedule needs of the inner settings. */
export interface InnerRateSettings {
  readonly learningRate: number;
  readonly warmupRounds: number;
  readonly minLrRatio: number;
  readonly lrSchedule?: LrScheduleSettings;
}

/**
 * The schedule of a run's inner rate over rounds. `triggered` is the round the operator started
 * the cooldown at (null: never); the earlier of it and the config's cooldownAt wins.
 */
export function innerSchedule(
  inner: InnerRateSettings,
  totalRounds: number,
  triggered: number | null,
): LearningRateSchedule {
  const base = {
    learningRate: inner.learningRate,
    minLrRatio: inner.minLrRatio,
    warmup: inner.warmupRounds,
    ramp: 'below-peak',
  } as const;
  const s = inner.lrSchedule ?? { kind: 'cosine' };
  if (s.kind === 'cosine') return { ...base, kind: 'cosine', total: totalRounds };
  const asked = [s.cooldownAt, triggered].filter((r): r is number => r !== undefined && r !== null);
  const cooldown = { cooldown: s.cooldownRounds, cooldownStart: asked.length ? Math.min(...asked) : null };
  return s.kind === 'wsd'
    ? { ...base, ...cooldown, kind: 'wsd' }
    : { ...base, ...cooldown, kind: 'infinite', decay: s.decayRounds, plateauRatio: s.plateauRatio };
}

/** The round a schedule's cooldown begins at, or null for a cosine or one not begun. */
export function cooldownRound(schedule: LearningRateSchedule): number | null {
  return isOpenEnded(schedule) ? cooldownBegins(schedule) : null;
}

/** Why `inner`'s schedule cannot be trained, or null: the cross-field rules of run-config.ts. */
export function lrScheduleIssue(inner: InnerRateSettings): string | null {
  const s = inner.lrSchedule;
  const schedule = innerSchedule(inner, 0, null);
  if (!s || s.kind === 'cosine' || !isOpenEnded(schedule)) return null;
  if (s.kind === 'infinite' && s.plateauRatio <= inner.minLrRatio)
    return `plateauRatio ${s.plateauRatio} must lie above inner.minLrRatio ${inner.minLrRatio}: nothing would be left to anneal`;
  const stable = stableFrom(schedule);
  if (s.cooldownAt !== undefined && s.cooldownAt < stable)
    return `cooldownAt ${s.cooldownAt} falls before round ${stable}, where the ${s.kind === 'wsd' ? 'warmup' : 'decay to the plateau'} ends`;
  return null;
}
