// A quota per key per fixed window (new identities per address per hour): each key may take
// `limit` in a window, and every count is forgotten when the window rolls over. A fixed window
// lets a key take up to twice the limit across a boundary; that is the price of holding one
// number per key instead of a log of times. Memory is bounded: past `maxKeys` the key counted
// longest ago is dropped, which at worst hands that key a fresh quota early.
export class WindowQuota {
  private counts = new Map<string, number>();
  private windowStart = Number.NEGATIVE_INFINITY;

  constructor(
    readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys: number,
    private readonly now: () => number,
  ) {}

  /** Whether `key` has quota left in this window. */
  hasRoom(key: string): boolean {
    this.roll();
    return (this.counts.get(key) ?? 0) < this.limit;
  }

  /** Counts one against `key`. */
  take(key: string): void {
    this.roll();
    const taken = this.counts.get(key) ?? 0;
    this.counts.delete(key); // re-inserted last: Map order is then the order keys were counted
    if (this.counts.size >= this.maxKeys) {
      const oldest = this.counts.keys().next();
      if (!oldest.done) this.counts.delete(oldest.value);
    }
    this.counts.set(key, taken + 1);
  }

  /** Keys counted in this window: what the quota costs in memory. */
  get size(): number {
    return this.counts.size;
  }

  private roll(): void {
    const now = this.now();
    if (now - this.windowStart < this.windowMs) return;
    this.counts = new Map();
    this.windowStart = now;
  }
}
