// Where a run's learning-rate schedule stands on the relay: the rate of each round it opens, and
// the operator's start of the cooldown (a wsd or infinite schedule, protocol/learning-rate.ts).
// The cooldown begins at the next round to open, never one already handed out: a round's rate
// is fixed when it opens (the coordinator keeps it with the round, and a check redoes the round
// at that rate), so starting the cooldown never changes work in flight. The start is written to
// the database (cooldown-record.ts) before it is answered, so a relay that restarts, or another
// that takes the run over, opens every later round at the same rate.
import type { CooldownBody } from '../../protocol/cooldown-api.ts';
import { isOpenEnded, type LearningRateSchedule, learningRateAt } from '../../protocol/learning-rate.ts';
import { cooldownRound, innerSchedule } from '../../protocol/lr-schedule-settings.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import type { CooldownRecord } from './cooldown-record.ts';

export type CooldownOutcome =
  | { readonly kind: 'started'; readonly body: CooldownBody }
  | {
      readonly kind: 'refused';
      readonly status: 409;
      readonly code: 'ERR_COOLDOWN_COSINE' | 'ERR_COOLDOWN_BEGUN';
      readonly message: string;
    };

export class RunCooldown {
  private triggered: number | null;
  /** A start being written: a second one waits for no database to say no. */
  private starting = false;

  constructor(
    private readonly config: RunConfig,
    /** The round the operator started the cooldown at, as the database holds it. */
    triggered: number | null,
    private readonly record?: Pick<CooldownRecord, 'start'>,
  ) {
    this.triggered = triggered;
  }

  private get schedule(): LearningRateSchedule {
    return innerSchedule(this.config.inner, this.config.totalRounds, this.triggered);
  }

  /** The inner learning rate of `round`, as the schedule stands now. */
  rateOf(round: number): number {
    return learningRateAt(round, this.schedule);
  }

  /** The schedule and where its cooldown stands, with `nextRound`'s rate. */
  view(nextRound: number): CooldownBody {
    const schedule = this.schedule;
    return {
      schedule: schedule.kind ?? 'cosine',
      cooldownFrom: cooldownRound(schedule),
      triggered: this.triggered,
      nextRound,
      learningRate: learningRateAt(nextRound, schedule),
    };
  }

  /**
   * The operator's start: the cooldown begins at `nextRound` (or where the warmup or the decay
   * to the plateau ends, if later). Refused for a cosine run, which decays over totalRounds, and
   * once the cooldown has begun or been asked for.
   */
  async start(nextRound: number): Promise<CooldownOutcome> {
    const schedule = this.schedule;
    if (!isOpenEnded(schedule))
      return refused(
        'ERR_COOLDOWN_COSINE',
        'this run follows the cosine over totalRounds: it has no cooldown to start',
      );
    const from = cooldownRound(schedule);
    if (this.triggered !== null || this.starting)
      return refused(
        'ERR_COOLDOWN_BEGUN',
        `the operator already started the cooldown, from round ${from ?? this.triggered}`,
      );
    if (from !== null && from <= nextRound)
      return refused(
        'ERR_COOLDOWN_BEGUN',
        `the cooldown began at round ${from}, as the run config's cooldownAt says`,
      );
    // In memory first, so a round opening while the database writes already cools down.
    this.triggered = nextRound;
    this.starting = true;
    try {
      const held = await this.record?.start(nextRound);
      if (held && !held.recorded) {
        this.triggered = held.round;
        return refused(
          'ERR_COOLDOWN_BEGUN',
          `the operator already started the cooldown, from round ${held.round}`,
        );
      }
    } catch (error) {
      this.triggered = null;
      throw error;
    } finally {
      this.starting = false;
    }
    return { kind: 'started', body: this.view(nextRound) };
  }
}

function refused(code: 'ERR_COOLDOWN_COSINE' | 'ERR_COOLDOWN_BEGUN', message: string): CooldownOutcome {
  return { kind: 'refused', status: 409, code, message };
}
