// SparseLoCo's per-chunk top-k as bench:swarm measures it (a run's `chunkSize` and `errorDecay`):
// every chunk keeps its own largest magnitudes, and its frames are ordinary round frames that
// the relay's aggregation accepts and every peer applies to the same bits.
import { expect, it } from 'vitest';
import { chunkedTopKReference as chunkedTopK } from '../../../kernels/reference/compress.ts';
import type { TrainConfig } from '../../../kernels/train/config.ts';
import { DEFAULT_TRAIN } from '../../../kernels/train/config.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { PLAIN_MEAN } from '../../../protocol/robust-aggregate.ts';
import { shardTokens } from '../../bench/swarm/peer-data.ts';
import { simulateDiloco } from '../../bench/swarm/simulate-diloco.ts';
import { brownSample } from '../../helpers/brown-sample.ts';
import { nodeContext } from '../../helpers/node-context.ts';
import { memoryTuneCache } from '../../helpers/tune-cache-memory.ts';

it('keeps the largest magnitudes of every chunk, however small one chunk is against another', () => {
  // Chunk 0 is a thousand times the scale of chunk 1: a global top-4 would take chunk 0 only.
  const acc = Float32Array.of(1000, -3000, 2000, 500, 1, -4, 2, 0.5);
  expect([...chunkedTopK(acc, 0.5, 4)]).toEqual([1, 2, 5, 6]);
  // Ties go to the lower index; the run's count (round(0.5 · 5) = 3) is met by giving the one
  // left over after floor(topK · length) per chunk to the first chunk.
  expect([...chunkedTopK(Float32Array.of(1, -1, 1, 5, 5), 0.5, 4)]).toEqual([0, 1, 3]);
  expect([...chunkedTopK(Float32Array.of(3, 1, 2), 1, 2)]).toEqual([0, 1, 2]);
});

it('sends frames the relay aggregates and every peer applies to the same state', async () => {
  const model: GptConfig = { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 1, nHead: 2 };
  const train: TrainConfig = { ...DEFAULT_TRAIN, model, batchSize: 2, seqLen: 16, warmupSteps: 1, seed: 5 };
  const compression = {
    randomK: 1,
    topK: 0.05,
    bits: 2,
    blockSize: 64,
    chunkSize: 256,
    errorDecay: 0.95,
  } as const;
  const result = await simulateDiloco({
    ctx: await nodeContext(),
    model,
    shards: shardTokens(brownSample(4).train, 2, model.vocabSize),
    train,
    round: {
      innerSteps: 2,
      outerLr: 1,
      outerMomentum: 0,
      compression,
      aggregation: PLAIN_MEAN,
      aggregateBits: 2,
    },
    rounds: 3,
    init: initParams(model, 5),
    tuneCache: memoryTuneCache(),
  });
  expect(result.hashes).toHaveLength(3);
  for (const round of result.hashes) expect(new Set(round).size).toBe(1);
  // 5% of the parameters at 2 bits plus index varints: far under one byte per parameter.
  expect(result.bytesPerPeer / 3).toBeLessThan(result.weights.length * 0.1);
});
