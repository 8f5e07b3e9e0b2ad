// A split held in memory as one token array, for tests and benchmarks that train on a sample
// without shard files; the same sampling and evaluation windows as the file loader.
import { assembleBatch, type TokenBatch } from '../../protocol/token-batch.ts';
import { sequentialWindowCount, sequentialWindows, WindowIndex } from '../../protocol/token-windows.ts';

export class MemorySplit {
  constructor(
    private readonly tokens: Uint16Array | Uint32Array,
    readonly vocabSize: number,
  ) {
    for (const [i, token] of tokens.entries()) {
      if (token >= vocabSize)
        throw new RangeError(`token ${i} is ${token}, outside the vocabulary of ${vocabSize}`);
    }
  }

  get tokenCount(): number {
    return this.tokens.length;
  }

  /** B windows drawn uniformly (with replacement) over every valid start. */
  sampleBatch(batchSize: number, seqLen: number, rng: { nextBelow(n: number): number }): TokenBatch {
    const index = new WindowIndex([this.tokens.length], seqLen + 1);
    if (index.count === 0)
      throw new RangeError(`${this.tokens.length} tokens hold no window of ${seqLen + 1}`);
    const windows = Array.from({ length: batchSize }, () => index.locate(rng.nextBelow(index.count)));
    return assembleBatch(windows, seqLen, this.read);
  }

  /** Consecutive non-overlapping windows, full batches only. */
  *evalBatches(batchSize: number, seqLen: number): Generator<TokenBatch> {
    let windows = [];
    for (const window of sequentialWindows([this.tokens.length], seqLen)) {
      windows.push(window);
      if (windows.length === batchSize) {
        yield assembleBatch(windows, seqLen, this.read);
        windows = [];
      }
    }
  }

  evalBatchCount(batchSize: number, seqLen: number): number {
    return Math.floor(sequentialWindowCount([this.tokens.length], seqLen) / batchSize);
  }

  private readonly read = ({ offset }: { offset: number }, span: number): Uint32Array =>
    Uint32Array.from(this.tokens.subarray(offset, offset + span));
}
