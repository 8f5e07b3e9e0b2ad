// Which token ranges are still to be trained, over the run's one dataset or each dataset of its
// mixture (protocol/data-mixture.ts). Each dataset keeps its own free ranges and epochs
// (free-ranges.ts), so no range of a dataset is trained twice in an epoch of that dataset, and
// none is skipped because a peer left; a small replay set cycles through its epochs at its own
// pace. Which dataset the next range comes from is decided by counting, not sampling: the one
// whose tokens handed out, with this range, would be furthest below its share (smooth weighted
// round-robin over tokens), so the tokens each dataset gets follow the weights exactly to within
// one range, whatever the order peers come and go in. Tokens count once their range is handed
// out and stop counting if it comes back.

import { spanOf } from '../../protocol/data-mixture.ts';
import { FreeRanges, type TokenRange } from './free-ranges.ts';

export type { TokenRange } from './free-ranges.ts';

/** One dataset of the pool: its training tokens and its share of what is handed out. */
export interface PoolDataset {
  readonly tokens: number;
  readonly share: number;
}

export class ShardPool {
  private readonly datasets: readonly FreeRanges[];
  private readonly shares: readonly number[];
  /** Tokens handed out per dataset and not given back, every epoch together. */
  private readonly handed: number[];

  constructor(
    /** Tokens in the training split of the run's one dataset, or the datasets of a mixture. */
    datasets: number | readonly PoolDataset[],
  ) {
    const list = typeof datasets === 'number' ? [{ tokens: datasets, share: 1 }] : datasets;
    if (list.length === 0) throw new RangeError('a shard pool needs a dataset');
    let start = 0;
    this.datasets = list.map(({ tokens, share }) => {
      if (!Number.isSafeInteger(tokens) || tokens <= 0)
        throw new RangeError(`a shard pool needs a positive token count, got ${tokens}`);
      if (!(share > 0 && Number.isFinite(share)))
        throw new RangeError(`a dataset's share must be positive, got ${share}`);
      const ranges = new FreeRanges({ start, end: start + tokens });
      start += tokens;
      return ranges;
    });
    this.shares = list.map((d) => d.share);
    this.handed = list.map(() => 0);
  }

  /** Tokens of every dataset together: the run's token space is [0, totalTokens). */
  get totalTokens(): number {
    return this.datasets.reduce((sum, d) => sum + d.tokens, 0);
  }

  get freeTokens(): number {
    return this.datasets.reduce((sum, d) => sum + d.freeTokens, 0);
  }

  /** The epoch of the dataset with the largest share (the first among equals): the run's epoch. */
  get epoch(): number {
    let main = 0;
    for (const [i, share] of this.shares.entries()) if (share > (this.shares[main] as number)) main = i;
    return (this.datasets[main] as FreeRanges).epoch;
  }

  /** Each dataset's epoch, in the mixture's order. */
  get epochs(): readonly number[] {
    return this.datasets.map((d) => d.epoch);
  }

  /** Tokens handed out per dataset and not given back, in the mixture's order. */
  get handedTokens(): readonly number[] {
    return [...this.handed];
  }

  /**
   * Takes up to `tokens` contiguous tokens of one dataset, at least `minTokens` (a range too
   * short for one training window is useless), from the dataset furthest below its share. A
   * dataset with nothing usable left starts its next epoch when `outstanding` (ranges held by
   * peers) is zero; while ranges are held, the next dataset in line serves instead, and null
   * comes back when none can.
   */
  take(tokens: number, minTokens: number, outstanding: number): TokenRange | null {
    for (const d of this.preference(tokens, minTokens)) {
      const dataset = this.datasets[d] as FreeRanges;
      if (!dataset.serves(minTokens)) {
        if (outstanding > 0) continue;
        dataset.newEpoch();
      }
      const range = dataset.take(tokens, minTokens);
      if (range) {
        this.handed[d] = (this.handed[d] as number) + range.end - range.start;
        return range;
      }
    }
    return null;
  }

  /**
   * Starts the next epoch of every dataset whose free ranges cannot give each of `members` peers
   * at least `minTokens` (call when no range is held). A round opened on a nearly spent epoch
   * would otherwise seat fewer members than the run asks for, and the left-out peers would sit
   * it out; the few windows skipped at an epoch's end are the price.
   */
  rollUnlessServes(members: number, minTokens: number): void {
    for (const dataset of this.datasets)
      if (dataset.tokens >= minTokens && dataset.windows(minTokens) < members) dataset.newEpoch();
  }

  /** Puts a range back (its peer vanished or its round aborted). */
  release(range: TokenRange): void {
    const d = this.datasetOf(range);
    if (d < 0) return;
    (this.datasets[d] as FreeRanges).release(range);
    this.handed[d] = (this.handed[d] as number) - (range.end - range.start);
  }

  /**
   * Replays a committed round's ranges after a restart: they leave the pool. A range that is
   * not free means its round belongs to a later epoch of its dataset than the pool is in, so
   * that dataset moves on. A range that lies in no dataset (the data changed under the run) is
   * passed over.
   */
  replayCommitted(ranges: readonly TokenRange[]): void {
    for (const range of ranges) {
      const d = this.datasetOf(range);
      if (d < 0) continue;
      const dataset = this.datasets[d] as FreeRanges;
      if (!dataset.isFree(range)) dataset.newEpoch();
      dataset.remove(range);
      this.handed[d] = (this.handed[d] as number) + range.end - range.start;
    }
  }

  /**
   * Datasets in the order they should serve a take of `tokens`: by how far below its share
   * each would stand after it, (handed + tokens) / share, ties to the mixture's order. Datasets
   * too small for one window are never asked.
   */
  private preference(tokens: number, minTokens: number): number[] {
    const after = (d: number) => ((this.handed[d] as number) + tokens) / (this.shares[d] as number);
    return this.datasets
      .map((_, d) => d)
      .filter((d) => (this.datasets[d] as FreeRanges).tokens >= minTokens)
      .sort((a, b) => after(a) - after(b) || a - b);
  }

  private datasetOf(range: TokenRange): number {
    return spanOf(
      this.datasets.map((d) => d.span),
      range.start,
      range.end,
    );
  }
}
