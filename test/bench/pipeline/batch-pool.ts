// The pipeline bench's training data: a fixed pool of batches cut from the training split,
// visited in the same order every epoch, so that every row trains on the same batches and
// every sample comes back, which the delta codecs (AQ-SGD) need: a sample's activation is sent
// as its change since the sample last crossed the boundary, keyed by its data position.
//
// A sequence's sample id is its window's start in the split. The windows are distinct, so
// the first sequence of each microbatch, which keys the link's cache, names that microbatch
// alone, whichever step it lands in.

import type { Rng } from '../../../protocol/rng.ts';
import { assembleBatch, type TokenBatch } from '../../../protocol/token-batch.ts';
import { WindowIndex, type WindowLocation } from '../../../protocol/token-windows.ts';

export interface PoolBatch {
  readonly batch: TokenBatch;
  /** (B,) each sequence's data position: its window's first token in the split. */
  readonly sampleIds: Uint32Array;
}

export class BatchPool {
  readonly batches: readonly PoolBatch[];

  /** `count` batches of `batchSize` distinct windows of seqLen + 1 tokens, drawn with `rng`. */
  constructor(tokens: Uint16Array, count: number, batchSize: number, seqLen: number, rng: Rng) {
    const index = new WindowIndex([tokens.length], seqLen + 1);
    const needed = count * batchSize;
    if (index.count < needed)
      throw new RangeError(`${tokens.length} tokens hold ${index.count} windows, the pool needs ${needed}`);
    const starts = new Set<number>();
    while (starts.size < needed) starts.add(index.locate(rng.nextBelow(index.count)).offset);
    const windows: WindowLocation[] = [...starts].map((offset) => ({ shard: 0, offset }));
    const read = ({ offset }: WindowLocation, span: number) =>
      Uint32Array.from(tokens.subarray(offset, offset + span));
    this.batches = Array.from({ length: count }, (_, i) => {
      const mine = windows.slice(i * batchSize, (i + 1) * batchSize);
      return {
        batch: assembleBatch(mine, seqLen, read),
        sampleIds: Uint32Array.from(mine, (w) => w.offset),
      };
    });
  }

  /** The batch of 0-based `step`: the pool in order, epoch after epoch. */
  at(step: number): PoolBatch {
    return this.batches[step % this.batches.length] as PoolBatch;
  }
}
