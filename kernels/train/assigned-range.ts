// The tokens the relay assigned a peer for one round, read in order: step h takes windows
// h·B … h·B + B − 1, each T + 1 tokens starting T apart, so the round trains on every token of
// its range exactly once (the relay sized the range for the peer's steps: steps·B·T + 1
// tokens). A range too short for the steps asked wraps around rather than failing mid-round.
import { assembleBatch, checkBatchShape, type TokenBatch } from '../../protocol/token-batch.ts';
import type { TrainData } from './trainer.ts';

export class AssignedRange implements TrainData {
  private cursor = 0;

  constructor(
    /** The assigned range [start, end) of the training split. */
    private readonly tokens: Uint16Array | Uint32Array,
    vocabSize: number,
  ) {
    for (const [i, token] of tokens.entries()) {
      if (token >= vocabSize)
        throw new RangeError(`token ${i} is ${token}, outside the vocabulary of ${vocabSize}`);
    }
  }

  /** Windows this range holds for sequences of `seqLen`. */
  windowCount(seqLen: number): number {
    return Math.max(0, Math.floor((this.tokens.length - 1) / seqLen));
  }

  sampleBatch(batchSize: number, seqLen: number): TokenBatch {
    checkBatchShape(batchSize, seqLen);
    const count = this.windowCount(seqLen);
    if (count === 0) throw new RangeError(`${this.tokens.length} tokens hold no window of ${seqLen + 1}`);
    const windows = Array.from({ length: batchSize }, () => {
      const offset = (this.cursor++ % count) * seqLen;
      return { shard: 0, offset };
    });
    return assembleBatch(windows, seqLen, ({ offset }, span) =>
      Uint32Array.from(this.tokens.subarray(offset, offset + span)),
    );
  }
}
