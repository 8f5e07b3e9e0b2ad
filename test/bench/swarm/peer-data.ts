// Data for the swarm simulator: the training split cut into one contiguous shard per peer
// (as the relay hands out token ranges), and the data-parallel baseline's global batch made
// of every peer's batch from its own shard with the peer's own random stream, so that the
// baseline and the simulated peers see the same tokens step for step.

import type { RandomSplit, TrainData } from '../../../kernels/train/trainer.ts';
import { createRng, type Rng } from '../../../protocol/rng.ts';
import type { TokenBatch } from '../../../protocol/token-batch.ts';
import { MemorySplit } from '../../helpers/memory-split.ts';

export function shardTokens(tokens: Uint16Array, peers: number, vocabSize: number): MemorySplit[] {
  const size = Math.floor(tokens.length / peers);
  return Array.from(
    { length: peers },
    (_, p) => new MemorySplit(tokens.subarray(p * size, (p + 1) * size), vocabSize),
  );
}

/** Peer p's batch-order stream: one seed per peer so shards are sampled independently. */
export function peerRng(seed: number, peer: number): Rng {
  return createRng(seed + 1 + peer);
}

/** One global batch = peer 0's batch, then peer 1's, ... each drawn with that peer's stream. */
export class GlobalBatchData implements TrainData {
  private readonly rngs: Rng[];

  constructor(
    private readonly shards: readonly RandomSplit[],
    seed: number,
  ) {
    this.rngs = shards.map((_, p) => peerRng(seed, p));
  }

  sampleBatch(batchSize: number, seqLen: number): TokenBatch {
    const P = this.shards.length;
    if (batchSize % P !== 0) throw new RangeError(`global batch ${batchSize} does not split over ${P} peers`);
    const per = batchSize / P;
    const inputs = new Uint32Array(batchSize * seqLen); // (B, T)
    const targets = new Uint32Array(batchSize * seqLen); // (B, T)
    this.shards.forEach((shard, p) => {
      const batch = shard.sampleBatch(per, seqLen, this.rngs[p] as Rng);
      inputs.set(batch.inputs, p * per * seqLen);
      targets.set(batch.targets, p * per * seqLen);
    });
    return { batchSize, seqLen, inputs, targets };
  }
}
