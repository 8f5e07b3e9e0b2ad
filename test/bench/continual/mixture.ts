// Mixed batches: a fixed fraction of a phase's sequences come from a second set (A replayed
// during the B phase; B mixed into A for re-training on A ∪ B). Which sequences are mixed in is
// a rule, not a coin: sequence k (counted over the whole phase) is the second set's when
// floor((k+1)·f) > floor(k·f), so after n sequences exactly floor(n·f) came from it, whatever
// the batch size. Each set draws its windows with its own random stream.
import type { RandomSplit, TrainData } from '../../../kernels/train/trainer.ts';
import type { Rng } from '../../../protocol/rng.ts';
import type { TokenBatch } from '../../../protocol/token-batch.ts';

/** Whether 0-based sequence `k` of a mixture with fraction `fraction` is drawn from the mixed-in set. */
export function isMixedIn(k: number, fraction: number): boolean {
  return Math.floor((k + 1) * fraction) > Math.floor(k * fraction);
}

export interface SplitStream {
  readonly split: RandomSplit;
  readonly rng: Rng;
}

export class MixedBatches implements TrainData {
  /** Sequences drawn so far. */
  sequences = 0;
  /** Of them, from the mixed-in set. */
  mixedIn = 0;

  constructor(
    private readonly base: SplitStream,
    private readonly other: SplitStream,
    private readonly fraction: number,
  ) {
    if (!(fraction >= 0 && fraction <= 1))
      throw new RangeError(`mixture fraction must be in [0, 1], got ${fraction}`);
  }

  sampleBatch(batchSize: number, seqLen: number): TokenBatch {
    const inputs = new Uint32Array(batchSize * seqLen); // (B, T)
    const targets = new Uint32Array(batchSize * seqLen); // (B, T)
    for (let b = 0; b < batchSize; b++) {
      const fromOther = isMixedIn(this.sequences++, this.fraction);
      if (fromOther) this.mixedIn++;
      const { split, rng } = fromOther ? this.other : this.base;
      const one = split.sampleBatch(1, seqLen, rng);
      inputs.set(one.inputs, b * seqLen);
      targets.set(one.targets, b * seqLen);
    }
    return { batchSize, seqLen, inputs, targets };
  }
}
