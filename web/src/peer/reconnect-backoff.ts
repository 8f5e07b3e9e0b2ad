// How long to wait before the next attempt to reach the relay: exponential back-off with jitter.
// When the relay restarts, every volunteer of the run lost its connection at the same instant;
// without jitter they would all knock again at the same instants and the restarted relay would
// take them in bursts (the "thundering herd"; see AWS's "Exponential Backoff And Jitter").
// A volunteer whose relay died while the run's other relays live goes to the next one at once,
// but not all at the same instant: `spread()` is that short wait, and it counts no failure.

export interface BackoffOptions {
  /** The first wait. */
  readonly initialMs?: number;
  /** The waits double up to this; jitter spreads them around it. */
  readonly maxMs?: number;
  /** Each wait is its base times a uniform factor in [1 − jitter, 1 + jitter]. */
  readonly jitter?: number;
  /** Uniform in [0, 1): Math.random by default, a seeded one in tests. */
  readonly random?: () => number;
  /** The longest wait before trying another relay of the run; each is uniform below it. */
  readonly spreadMs?: number;
}

export const RECONNECT_INITIAL_MS = 500;
export const RECONNECT_MAX_MS = 15_000;
export const RECONNECT_JITTER = 0.5;
/**
 * A dead relay's thousands of volunteers reach the others within this, about evenly: short next
 * to the back-off, long enough that no relay takes them all in one burst of handshakes.
 */
export const FAILOVER_SPREAD_MS = 1_000;

export class Backoff {
  private failures = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private readonly spreadMs: number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? RECONNECT_INITIAL_MS;
    this.maxMs = options.maxMs ?? RECONNECT_MAX_MS;
    this.jitter = options.jitter ?? RECONNECT_JITTER;
    this.random = options.random ?? Math.random;
    this.spreadMs = options.spreadMs ?? FAILOVER_SPREAD_MS;
    if (!(this.initialMs > 0 && this.maxMs >= this.initialMs))
      throw new RangeError(`back-off needs 0 < initialMs <= maxMs, got ${this.initialMs}, ${this.maxMs}`);
    if (!(this.jitter >= 0 && this.jitter < 1))
      throw new RangeError(`jitter must be in [0, 1), got ${this.jitter}`);
    if (!(this.spreadMs >= 0)) throw new RangeError(`spreadMs must be 0 or more, got ${this.spreadMs}`);
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

  /** The wait before trying another relay, in whole milliseconds in [0, spreadMs]; no failure counted. */
  spread(): number {
    return Math.round(this.spreadMs * this.random());
  }

  /** A connection proved healthy: the next failure starts again from the first wait. */
  reset(): void {
    this.failures = 0;
  }
}
