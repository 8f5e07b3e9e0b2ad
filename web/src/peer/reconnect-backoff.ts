// How long to wait before the next attempt to reach the relay: exponential back-off with jitter.
// When the relay restarts, every volunteer of the run lost its connection at the same instant;
// without jitter they would all knock again at the same instants and the restarted relay would
// take them in bursts (the "thundering herd"; see AWS's "Exponential Backoff And Jitter").

export interface BackoffOptions {
  /** The first wait. */
  readonly initialMs?: number;
  /** The waits double up to this; jitter spreads them around it. */
  readonly maxMs?: number;
  /** Each wait is its base times a uniform factor in [1 − jitter, 1 + jitter]. */
  readonly jitter?: number;
  /** Uniform in [0, 1): Math.random by default, a seeded one in tests. */
  readonly random?: () => number;
}

export const RECONNECT_INITIAL_MS = 500;
export const RECONNECT_MAX_MS = 15_000;
export const RECONNECT_JITTER = 0.5;

export class Backoff {
  private failures = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? RECONNECT_INITIAL_MS;
    this.maxMs = options.maxMs ?? RECONNECT_MAX_MS;
    this.jitter = options.jitter ?? RECONNECT_JITTER;
    this.random = options.random ?? Math.random;
    if (!(this.initialMs > 0 && this.maxMs >= this.initialMs))
      throw new RangeError(`back-off needs 0 < initialMs <= maxMs, got ${this.initialMs}, ${this.maxMs}`);
    if (!(this.jitter >= 0 && this.jitter < 1))
      throw new RangeError(`jitter must be in [0, 1), got ${this.jitter}`);
  }

  /** Attempts that failed since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** The wait before the next attempt, in whole milliseconds; each call counts one failure. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.failures);
    this.failures++;
    return Math.round(base * (1 + this.jitter * (2 * this.random() - 1)));
  }

  /** A connection proved healthy: the next failure starts again from the first wait. */
  reset(): void {
    this.failures = 0;
  }
}
