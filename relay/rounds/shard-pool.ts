// Which token ranges of the training split are still to be trained this epoch. A range handed
// to a peer leaves the pool; it comes back if the peer vanishes or its round aborts, and is
// gone for the epoch once its round commits. So no token range is trained twice in an epoch,
// and none is skipped because a peer left. When every range has been trained, a new epoch
// begins with the whole split.

export interface TokenRange {
  readonly start: number;
  readonly end: number;
}

export class ShardPool {
  /** Disjoint free ranges, sorted by start. */
  private free: TokenRange[];
  epoch = 0;

  constructor(
    /** Tokens in the training split. */
    readonly totalTokens: number,
  ) {
    if (!Number.isSafeInteger(totalTokens) || totalTokens <= 0)
      throw new RangeError(`a shard pool needs a positive token count, got ${totalTokens}`);
    this.free = [{ start: 0, end: totalTokens }];
  }

  get freeTokens(): number {
    return this.free.reduce((sum, r) => sum + r.end - r.start, 0);
  }

  /**
   * Takes up to `tokens` contiguous tokens, at least `minTokens` (a range too short for one
   * training window is useless). Starts a new epoch when nothing usable is left and
   * `outstanding` (ranges held by peers) is empty; returns null when all that is left is held.
   */
  take(tokens: number, minTokens: number, outstanding: number): TokenRange | null {
    let index = this.free.findIndex((r) => r.end - r.start >= minTokens);
    if (index < 0) {
      if (outstanding > 0) return null;
      this.newEpoch();
      index = 0;
      if (this.totalTokens < minTokens) return null;
    }
    const range = this.free[index] as TokenRange;
    const end = Math.min(range.end, range.start + tokens);
    const taken = { start: range.start, end };
    if (end === range.end) this.free.splice(index, 1);
    else this.free[index] = { start: end, end: range.end };
    return taken;
  }

  /**
   * Starts the next epoch unless the free ranges can still give each of `members` peers at
   * least `minTokens` (call when no range is held). A round opened on a nearly spent epoch
   * would otherwise seat fewer members than the run asks for, and the left-out peers would sit
   * it out; the few windows skipped at an epoch's end are the price.
   */
  rollUnlessServes(members: number, minTokens: number): void {
    const windows = this.free.reduce((n, r) => n + Math.floor((r.end - r.start) / minTokens), 0);
    if (windows < members) this.newEpoch();
  }

  /** Puts a range back (its peer vanished or its round aborted). */
  release(range: TokenRange): void {
    if (!(range.start < range.end && range.start >= 0 && range.end <= this.totalTokens)) return;
    const merged = [...this.free, range].sort((a, b) => a.start - b.start);
    const out: TokenRange[] = [];
    for (const r of merged) {
      const last = out[out.length - 1];
      if (last && r.start <= last.end)
        out[out.length - 1] = { start: last.start, end: Math.max(last.end, r.end) };
      else out.push(r);
    }
    this.free = out;
  }

  /**
   * Replays a committed round's ranges after a restart: they leave the pool. A range that is
   * not free means its round belongs to a later epoch than the pool is in, so the pool moves on.
   */
  replayCommitted(ranges: readonly TokenRange[]): void {
    for (const range of ranges) {
      if (!this.isFree(range)) this.newEpoch();
      this.remove(range);
    }
  }

  private isFree(range: TokenRange): boolean {
    return this.free.some((r) => r.start <= range.start && range.end <= r.end);
  }

  private remove(range: TokenRange): void {
    const out: TokenRange[] = [];
    for (const r of this.free) {
      if (r.end <= range.start || r.start >= range.end) out.push(r);
      else {
        if (r.start < range.start) out.push({ start: r.start, end: range.start });
        if (range.end < r.end) out.push({ start: range.end, end: r.end });
      }
    }
    this.free = out;
  }

  private newEpoch(): void {
    this.epoch++;
    this.free = [{ start: 0, end: this.totalTokens }];
  }
}
