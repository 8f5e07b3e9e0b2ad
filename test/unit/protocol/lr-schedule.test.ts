// Each schedule's rate against its formula, written out here apart from learning-rate.ts, and
// the run config's rules for choosing one (inner.lrSchedule).
import { describe, expect, it } from 'vitest';
import { learningRateAt } from '../../../protocol/learning-rate.ts';
import {
  cooldownRound,
  innerSchedule,
  type LrScheduleSettings,
  MAX_SCHEDULE_ROUNDS,
} from '../../../protocol/lr-schedule-settings.ts';
import {
  canonicalJson,
  checkRunConfig,
  DEFAULT_PIPELINE,
  DEFAULT_RUN,
  innerLearningRate,
  type RunConfig,
} from '../../../protocol/run-config.ts';

const PEAK = 3e-3;
const FLOOR_RATIO = 0.1;
const FLOOR = PEAK * FLOOR_RATIO;
const WARMUP = 3;

function run(lrSchedule: LrScheduleSettings | undefined, totalRounds = 20): RunConfig {
  const inner = { ...DEFAULT_RUN.inner, learningRate: PEAK, minLrRatio: FLOOR_RATIO, warmupRounds: WARMUP };
  return { ...DEFAULT_RUN, totalRounds, inner: lrSchedule ? { ...inner, lrSchedule } : inner };
}

/** The run config's warmup: (round + 1) / (warmup + 1) of the peak. */
const warmup = (round: number) => (PEAK * (round + 1)) / (WARMUP + 1);

describe('wsd: warmup, the peak, a 1-sqrt cooldown to the floor', () => {
  const wsd = { kind: 'wsd', cooldownRounds: 4, cooldownAt: 10 } as const;
  const expected = (round: number) => {
    if (round < WARMUP) return warmup(round);
    if (round < 10) return PEAK;
    const progress = Math.min(1, (round - 10 + 1) / 4);
    return FLOOR + (PEAK - FLOOR) * (1 - Math.sqrt(progress));
  };

  it('follows the formula round by round, and lands on the floor on the cooldown’s last round', () => {
    const config = run(wsd);
    for (let round = 0; round < 30; round++) expect(innerLearningRate(config, round)).toBe(expected(round));
    expect(innerLearningRate(config, 9)).toBe(PEAK);
    expect(innerLearningRate(config, 10)).toBeCloseTo(FLOOR + (PEAK - FLOOR) * 0.5, 15);
    expect(innerLearningRate(config, 13)).toBe(FLOOR);
    expect(innerLearningRate(config, 1_000_000)).toBe(FLOOR);
  });

  it('is not bound by totalRounds: the peak holds past it until the cooldown is asked for', () => {
    const open = run({ kind: 'wsd', cooldownRounds: 4 }, 20);
    for (const round of [WARMUP, 20, 21, 5_000, MAX_SCHEDULE_ROUNDS])
      expect(innerLearningRate(open, round)).toBe(PEAK);
    // The same schedule with another totalRounds gives the same rates.
    for (let round = 0; round < 40; round++)
      expect(innerLearningRate(run(wsd, 5), round)).toBe(innerLearningRate(run(wsd, 500), round));
  });

  it('the operator’s round moves the rate from that round on; the earlier of it and the config’s wins', () => {
    const open = run({ kind: 'wsd', cooldownRounds: 4 });
    expect(innerLearningRate(open, 6, 7)).toBe(PEAK);
    expect(innerLearningRate(open, 7, 7)).toBeLessThan(PEAK);
    expect(innerLearningRate(open, 7, 7)).toBe(FLOOR + (PEAK - FLOOR) * (1 - Math.sqrt(1 / 4)));
    // Configured at 10, triggered at 7: 7. Triggered at 12, after the config's 10 began: 10.
    expect(innerLearningRate(run(wsd), 7, 7)).toBe(innerLearningRate(open, 7, 7));
    for (let round = 0; round < 20; round++)
      expect(innerLearningRate(run(wsd), round, 12)).toBe(expected(round));
  });

  it('a cooldown asked for during the warmup begins when the warmup ends', () => {
    const schedule = innerSchedule(run({ kind: 'wsd', cooldownRounds: 4 }).inner, 20, 1);
    expect(cooldownRound(schedule)).toBe(WARMUP);
    expect(learningRateAt(1, schedule)).toBe(warmup(1));
    expect(learningRateAt(WARMUP, schedule)).toBe(FLOOR + (PEAK - FLOOR) * (1 - Math.sqrt(1 / 4)));
  });
});

describe('infinite: warmup, a cosine to the plateau, the plateau, an exponential anneal', () => {
  const infinite = {
    kind: 'infinite',
    decayRounds: 5,
    plateauRatio: 0.5,
    cooldownRounds: 6,
    cooldownAt: 20,
  } as const;
  const plateau = PEAK * 0.5;
  const expected = (round: number) => {
    if (round < WARMUP) return warmup(round);
    if (round < WARMUP + 5)
      return plateau + ((PEAK - plateau) / 2) * (1 + Math.cos((Math.PI * (round - WARMUP)) / 5));
    if (round < 20) return plateau;
    return plateau * (FLOOR / plateau) ** Math.min(1, (round - 20 + 1) / 6);
  };

  it('follows the formula round by round', () => {
    const config = run(infinite);
    for (let round = 0; round < 40; round++)
      expect(innerLearningRate(config, round)).toBeCloseTo(expected(round), 15);
    expect(innerLearningRate(config, WARMUP)).toBe(PEAK);
    expect(innerLearningRate(config, WARMUP + 5)).toBe(plateau);
    expect(innerLearningRate(config, 19)).toBe(plateau);
    expect(innerLearningRate(config, 25)).toBeCloseTo(FLOOR, 15);
    expect(innerLearningRate(config, 10_000)).toBeCloseTo(FLOOR, 15);
  });

  it('stays on the plateau for as long as nobody asks for the anneal', () => {
    const open = run({ ...infinite, cooldownAt: undefined });
    for (const round of [WARMUP + 5, 20, 1_000, MAX_SCHEDULE_ROUNDS])
      expect(innerLearningRate(open, round)).toBe(plateau);
    expect(innerLearningRate(open, 30, 30)).toBeCloseTo(plateau * (FLOOR / plateau) ** (1 / 6), 15);
  });

  it('an anneal asked for during the decay to the plateau begins on the plateau', () => {
    const schedule = innerSchedule(run({ ...infinite, cooldownAt: undefined }).inner, 20, WARMUP + 1);
    expect(cooldownRound(schedule)).toBe(WARMUP + 5);
    expect(learningRateAt(WARMUP + 1, schedule)).toBeCloseTo(expected(WARMUP + 1), 15);
  });
});

describe('cosine stays what it was', () => {
  it('absent and named give the same rates, and an absent schedule leaves the config (and run id) as before', () => {
    for (let round = 0; round < 30; round++)
      expect(innerLearningRate(run({ kind: 'cosine' }), round, 4)).toBe(
        innerLearningRate(run(undefined), round),
      );
    expect(cooldownRound(innerSchedule(run({ kind: 'cosine' }).inner, 20, 4))).toBeNull();
    const checked = checkRunConfig(DEFAULT_RUN);
    expect(checked.ok && canonicalJson(checked.config)).toBe(canonicalJson(DEFAULT_RUN));
    expect(canonicalJson(DEFAULT_RUN)).not.toContain('lrSchedule');
  });
});

describe('the run config refuses a schedule it cannot train', () => {
  const refused = (lrSchedule: unknown, says: RegExp, extra: Partial<RunConfig> = {}) => {
    const checked = checkRunConfig({ ...DEFAULT_RUN, ...extra, inner: { ...DEFAULT_RUN.inner, lrSchedule } });
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.message).toMatch(says);
  };

  it('accepts each kind', () => {
    for (const lrSchedule of [
      { kind: 'cosine' },
      { kind: 'wsd', cooldownRounds: 100 },
      { kind: 'wsd', cooldownRounds: 100, cooldownAt: 800 },
      { kind: 'infinite', decayRounds: 50, plateauRatio: 0.5, cooldownRounds: 100 },
    ])
      expect(checkRunConfig({ ...DEFAULT_RUN, inner: { ...DEFAULT_RUN.inner, lrSchedule } }).ok).toBe(true);
  });

  it('refuses unknown kinds, missing lengths and lengths past the cap', () => {
    refused({ kind: 'step' }, /^run config inner\.lrSchedule\.kind:/);
    refused({ kind: 'wsd' }, /^run config inner\.lrSchedule\.cooldownRounds:/);
    refused({ kind: 'wsd', cooldownRounds: 0 }, /cooldownRounds/);
    refused({ kind: 'wsd', cooldownRounds: 1.5 }, /cooldownRounds/);
    refused({ kind: 'wsd', cooldownRounds: MAX_SCHEDULE_ROUNDS + 1 }, /cooldownRounds/);
    refused({ kind: 'wsd', cooldownRounds: 5, cooldownAt: -1 }, /cooldownAt/);
    refused({ kind: 'infinite', decayRounds: 5, plateauRatio: 0, cooldownRounds: 5 }, /plateauRatio/);
    refused({ kind: 'infinite', decayRounds: 5, plateauRatio: 1.5, cooldownRounds: 5 }, /plateauRatio/);
    expect(
      checkRunConfig({
        ...DEFAULT_RUN,
        inner: { ...DEFAULT_RUN.inner, lrSchedule: { kind: 'wsd', cooldownRounds: MAX_SCHEDULE_ROUNDS } },
      }).ok,
    ).toBe(true);
  });

  it('refuses a plateau at or below the floor, and a cooldown before the stable phase', () => {
    refused(
      { kind: 'infinite', decayRounds: 5, plateauRatio: DEFAULT_RUN.inner.minLrRatio, cooldownRounds: 5 },
      /^run config inner\.lrSchedule: plateauRatio 0\.1 must lie above inner\.minLrRatio/,
    );
    refused(
      { kind: 'wsd', cooldownRounds: 5, cooldownAt: DEFAULT_RUN.inner.warmupRounds - 1 },
      /^run config inner\.lrSchedule: cooldownAt 1 falls before round 2, where the warmup ends/,
    );
    refused(
      { kind: 'infinite', decayRounds: 5, plateauRatio: 0.5, cooldownRounds: 5, cooldownAt: 6 },
      /cooldownAt 6 falls before round 7, where the decay to the plateau ends/,
    );
  });

  it('keeps a pipeline run on the cosine', () => {
    refused(
      { kind: 'wsd', cooldownRounds: 5 },
      /^run config inner\.lrSchedule: a pipeline run follows the cosine/,
      {
        pipeline: DEFAULT_PIPELINE,
      },
    );
    const cosine = {
      ...DEFAULT_RUN,
      pipeline: DEFAULT_PIPELINE,
      inner: { ...DEFAULT_RUN.inner, lrSchedule: { kind: 'cosine' } },
    };
    expect(checkRunConfig(cosine).ok).toBe(true);
  });
});
