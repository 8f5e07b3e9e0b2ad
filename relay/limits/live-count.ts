// How many live things each key holds (connections per address, per network), with a cap per
// key. Keys at zero are forgotten, so memory follows what is live, never what has been.
export class LiveCount {
  private readonly counts = new Map<string, number>();

  constructor(readonly limit: number) {}

  /** Whether `key` may hold one more. */
  hasRoom(key: string): boolean {
    return (this.counts.get(key) ?? 0) < this.limit;
  }

  /** Whether `key` holds anything. */
  has(key: string): boolean {
    return this.counts.has(key);
  }

  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  remove(key: string): void {
    const left = (this.counts.get(key) ?? 0) - 1;
    if (left > 0) this.counts.set(key, left);
    else this.counts.delete(key);
  }

  /** Keys holding anything: what the counter costs in memory. */
  get size(): number {
    return this.counts.size;
  }
}
