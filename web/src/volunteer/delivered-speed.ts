// The speed a volunteer actually delivers: tokens trained per wall-clock second over the last
// few seconds, idle time included. The engine's own figure (tokens per second of a step) is the
// speed while working; at "GPU use 30%" the engine sleeps between steps and delivers about a
// third of it, and between rounds or while paused it delivers nothing (issue 17).

/** Long enough to hold a few throttled steps; short enough that a pause shows within seconds. */
export const DELIVERED_WINDOW_MS = 10_000;

export class DeliveredSpeed {
  /** Steps inside the window, oldest first: when each ended and the tokens it trained. */
  private readonly steps: { at: number; tokens: number }[] = [];
  private readonly since: number;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly windowMs = DELIVERED_WINDOW_MS,
  ) {
    this.since = now();
  }

  /** A step of `tokens` tokens just finished. */
  step(tokens: number): void {
    this.steps.push({ at: this.now(), tokens });
  }

  /** Tokens per second over the window (or since counting began, when that is shorter). */
  tokensPerSec(): number {
    const now = this.now();
    while (this.steps.length > 0 && (this.steps[0]?.at ?? now) <= now - this.windowMs) this.steps.shift();
    // Under a second of history says little: report nothing rather than a spike.
    const span = Math.min(this.windowMs, now - this.since);
    if (span < 1_000) return 0;
    const tokens = this.steps.reduce((sum, s) => sum + s.tokens, 0);
    return (tokens * 1000) / span;
  }
}
