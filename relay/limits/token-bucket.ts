// A token bucket (RFC 2697's single-rate idea without colours): up to `burst` messages at
// once, then `ratePerSecond` on average. Refilled lazily from the injected clock when a
// message arrives, so an idle connection costs no timer.

export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #now: () => number;

  /** `now` is a monotonic clock in milliseconds (performance.now, or a test's own). */
  constructor(ratePerSecond: number, burst: number, now: () => number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#last = now();
  }

  /** Takes `count` tokens (bytes, for a bucket of bytes) if there are as many. */
  take(count = 1): boolean {
    const now = this.#now();
    // max(0, …): a clock that steps back must not drain the bucket.
    const refill = Math.max(0, now - this.#last) * this.#ratePerMs;
    this.#last = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + refill);
    if (this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }
}
