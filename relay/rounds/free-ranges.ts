// One dataset's token ranges still to be trained this epoch (shard-pool.ts hands them out). A
// range handed to a peer leaves the free list; it comes back if the peer vanishes or its round
// aborts, and is gone for the epoch once its round commits. When every range has been trained,
// the dataset's next epoch begins with all of it. Offsets are the run's: the dataset's tokens
// lie at [span.start, span.end) of the run's token space (protocol/data-mixture.ts).

import type { MixtureSpan } from '../../protocol/data-mixture.ts';

export interface TokenRange {
  readonly start: number;
  readonly end: number;
}

export class FreeRanges {
  /** Disjoint free ranges, sorted by start. */
  private free: TokenRange[];
  epoch = 0;

  constructor(readonly span: MixtureSpan) {
    this.free = [{ ...span }];
  }

  get tokens(): number {
    return this.span.end - this.span.start;
  }

  get freeTokens(): number {
    return this.free.reduce((sum, r) => sum + r.end - r.start, 0);
  }

  /** Windows of `minTokens` the free ranges still hold. */
  windows(minTokens: number): number {
    return this.free.reduce((n, r) => n + Math.floor((r.end - r.start) / minTokens), 0);
  }

  /** Whether some free range holds `minTokens` contiguous tokens. */
  serves(minTokens: number): boolean {
    return this.free.some((r) => r.end - r.start >= minTokens);
  }

  /** Up to `tokens` contiguous tokens from the first free range of at least `minTokens`, or null. */
  take(tokens: number, minTokens: number): TokenRange | null {
    const index = this.free.findIndex((r) => r.end - r.start >= minTokens);
    if (index < 0) return null;
    const range = this.free[index] as TokenRange;
    const end = Math.min(range.end, range.start + tokens);
    if (end === range.end) this.free.splice(index, 1);
    else this.free[index] = { start: end, end: range.end };
    return { start: range.start, end };
  }

  /** Puts a range back, merged with its free neighbours. */
  release(range: TokenRange): void {
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

  isFree(range: TokenRange): boolean {
    return this.free.some((r) => r.start <= range.start && range.end <= r.end);
  }

  /** Takes a range out of the free list wherever it lies (a committed round replayed). */
  remove(range: TokenRange): void {
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

  newEpoch(): void {
    this.epoch++;
    this.free = [{ ...this.span }];
  }
}
