// Training windows over a split held in several shards. A window is `span` consecutive
// tokens (seqLen inputs plus one, since targets are the inputs shifted by one) inside a
// single shard: windows never straddle a shard boundary, where the text is not continuous.
// Numbering every valid window start across all shards lets a sampler draw one uniformly
// with a single random integer, so each position is equally likely whatever the shard sizes.

export interface WindowLocation {
  readonly shard: number;
  /** Token offset of the window's first token inside the shard. */
  readonly offset: number;
}

export class WindowIndex {
  /** Number of distinct windows (valid start positions) across all shards. */
  readonly count: number;
  /** ends[s] = windows in shards 0..s, a running total for the binary search. */
  private readonly ends: readonly number[];

  constructor(shardTokenCounts: readonly number[], span: number) {
    if (!Number.isInteger(span) || span < 1)
      throw new RangeError(`window span must be a positive integer, got ${span}`);
    let total = 0;
    this.ends = shardTokenCounts.map((tokens) => {
      total += Math.max(0, tokens - span + 1);
      return total;
    });
    this.count = total;
  }

  /** Where window `i` (0 <= i < count) starts. */
  locate(i: number): WindowLocation {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw new RangeError(`window ${i} outside [0, ${this.count})`);
    }
    // First shard whose running total exceeds i.
    let lo = 0;
    let hi = this.ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ends[mid] as number) > i) hi = mid;
      else lo = mid + 1;
    }
    const before = lo === 0 ? 0 : (this.ends[lo - 1] as number);
    return { shard: lo, offset: i - before };
  }
}

/**
 * Non-overlapping windows for evaluation, in order: in each shard, inputs start at 0, seqLen,
 * 2 seqLen, ... so every token is an input once (the last target of one window is the first
 * input of the next), as long as a full window of seqLen + 1 tokens fits.
 */
export function* sequentialWindows(
  shardTokenCounts: readonly number[],
  seqLen: number,
): Generator<WindowLocation> {
  if (!Number.isInteger(seqLen) || seqLen < 1)
    throw new RangeError(`seqLen must be a positive integer, got ${seqLen}`);
  for (const [shard, tokens] of shardTokenCounts.entries()) {
    for (let offset = 0; offset + seqLen + 1 <= tokens; offset += seqLen) yield { shard, offset };
  }
}

/** How many windows `sequentialWindows` yields. */
export function sequentialWindowCount(shardTokenCounts: readonly number[], seqLen: number): number {
  return shardTokenCounts.reduce(
    (n, tokens) => n + (tokens >= seqLen + 1 ? Math.floor((tokens - 1) / seqLen) : 0),
    0,
  );
}
