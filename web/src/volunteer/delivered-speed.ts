// The speed a volunteer actually delivers: tokens trained per wall-clock second over the last
// few seconds, idle time included. The engine's own figure (tokens per second of a step) is the
// speed while working; at "GPU use 30%" the engine sleeps between steps and delivers about a
// third of it, and between rounds or while paused it delivers nothing (issue 17).

/** Long enough to hold a few throttled steps; short enough that a pause shows within seconds. */
export const DELIVERED_WINDOW_MS = 10_000;

export class DeliveredSpeed {
  /** Steps inside the window, oldest first: when each ended, its tokens and its working time. */
  private readonly steps: { at: number; tokens: number; millis: number }[] = [];
  /**
   * When the first step finished, less its length: the time before it went to joining and to
   * waiting for a first round, not to idling by choice.
   */
  private since: number | null = null;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly windowMs = DELIVERED_WINDOW_MS,
  ) {}

  /** A step of `tokens` tokens just finished, after `stepMillis` of work. */
  step(tokens: number, stepMillis: number): void {
    const at = this.now();
    this.since ??= at - stepMillis;
    this.steps.push({ at, tokens, millis: stepMillis });
  }

  /**
   * Tokens per second of work over the window's steps, throttle's idle time left out: the GPU's
   * speed, steadier than one step's.
   */
  whileWorking(): number {
    this.forgetOld();
    const millis = this.steps.reduce((sum, s) => sum + s.millis, 0);
    const tokens = this.steps.reduce((sum, s) => sum + s.tokens, 0);
    return millis > 0 ? (tokens * 1000) / millis : 0;
  }

  /** Tokens per second over the window (or since counting began, when that is shorter). */
  tokensPerSec(): number {
    const now = this.forgetOld();
    // Under a second of history says little: report nothing rather than a spike.
    if (this.since === null) return 0;
    const span = Math.min(this.windowMs, now - this.since);
    if (span < 1_000) return 0;
    const tokens = this.steps.reduce((sum, s) => sum + s.tokens, 0);
    return (tokens * 1000) / span;
  }

  /** Drops the steps that ended before the window; returns the time now. */
  private forgetOld(): number {
    const now = this.now();
    while (this.steps.length > 0 && (this.steps[0]?.at ?? now) <= now - this.windowMs) this.steps.shift();
    return now;
  }
}
