// Simulated peers run the real round code (GPU inner steps and compression, frames, chunked
// in-memory transport, fixed-order aggregation, outer Nesterov) and end every round with
// bit-identical weights, although each sums the contributions in a different arrival order.
import { beforeAll, describe, expect, it } from 'vitest';
import { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { defaultTuning } from '../../../kernels/ops/matmul-tuning.ts';
import { DEFAULT_TRAIN, type TrainConfig } from '../../../kernels/train/config.ts';
import type { CompressionSettings } from '../../../protocol/compression-settings.ts';
import { DENSE } from '../../../protocol/compression-settings.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { modelHash } from '../../../protocol/model-hash.ts';
import { PLAIN_MEAN } from '../../../protocol/robust-aggregate.ts';
import { validationLoss } from '../../bench/swarm/evaluate.ts';
import { shardTokens } from '../../bench/swarm/peer-data.ts';
import { type Overlap, simulateDiloco } from '../../bench/swarm/simulate-diloco.ts';
import { brownSample } from '../../helpers/brown-sample.ts';
import { MemorySplit } from '../../helpers/memory-split.ts';
import { nodeContext } from '../../helpers/node-context.ts';
import { memoryTuneCache } from '../../helpers/tune-cache-memory.ts';

const MODEL: GptConfig = { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 2, nHead: 2 };
const TRAIN: TrainConfig = {
  ...DEFAULT_TRAIN,
  model: MODEL,
  batchSize: 4,
  seqLen: 32,
  learningRate: 1e-2,
  warmupSteps: 2,
  seed: 11,
};
const PEERS = 3;

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeContext();
});

async function run(
  compression: CompressionSettings,
  rounds: number,
  innerSteps: number,
  timing: { overlap?: Overlap; abortedRounds?: ReadonlySet<number> } = {},
) {
  const sample = brownSample(6);
  return simulateDiloco({
    ctx,
    model: MODEL,
    shards: shardTokens(sample.train, PEERS, MODEL.vocabSize),
    train: TRAIN,
    round: {
      innerSteps,
      outerLr: 0.7,
      outerMomentum: 0.9,
      compression,
      aggregation: PLAIN_MEAN,
      aggregateBits: 32,
    },
    rounds,
    init: initParams(MODEL, TRAIN.seed),
    tuneCache: memoryTuneCache(),
    ...timing,
  });
}

describe('swarm of simulated peers', () => {
  it('agrees on the weight hash after every round, with compression on', async () => {
    const result = await run({ randomK: 0.5, topK: 0.2, bits: 4, blockSize: 64 }, 4, 3);
    expect(result.hashes).toHaveLength(4);
    for (const round of result.hashes) {
      expect(round).toHaveLength(PEERS);
      expect(new Set(round).size).toBe(1);
    }
    // Every round moved the weights, and the final hash is the hash of the returned weights.
    expect(new Set(result.hashes.map((r) => r[0])).size).toBe(4);
    expect(await modelHash(result.weights, result.momentum)).toBe(result.hashes[3]?.[0]);
    expect(result.tokens).toBe(PEERS * 4 * 3 * TRAIN.batchSize * TRAIN.seqLen);
  });

  it('learns, and compression cuts the bytes each peer sends', async () => {
    const sample = brownSample(6);
    const val = new MemorySplit(sample.val, MODEL.vocabSize);
    const evaluator = new GpuGpt(ctx, MODEL, { B: 4, T: 32, matmul: defaultTuning(ctx.adapter) });
    const before = await validationLoss(evaluator, initParams(MODEL, TRAIN.seed), val, 8);
    const dense = await run(DENSE, 3, 4);
    const compressed = await run({ randomK: 0.25, topK: 0.25, bits: 2, blockSize: 64 }, 3, 4);
    const denseLoss = await validationLoss(evaluator, dense.weights, val, 8);
    const compressedLoss = await validationLoss(evaluator, compressed.weights, val, 8);
    evaluator.destroy();
    expect(denseLoss).toBeLessThan(before - 0.5);
    expect(compressedLoss).toBeLessThan(before - 0.3);
    // fp32 dense frames carry 4 bytes per parameter; 1/16 of them at 2 bits is far less.
    expect(compressed.bytesPerPeer * 20).toBeLessThan(dense.bytesPerPeer);
  });
});

// Overlap: round r+1's inner steps start from the last committed state while round r's frames
// travel, so each aggregate is applied one round late. The simulator checks every commit
// against the relay's own state, moved by the committed aggregates alone.
describe('overlapped rounds', () => {
  const compression = { randomK: 0.5, topK: 1, bits: 1, blockSize: 64 } as const;

  it("end every round bit-identical, on the relay's state, and train differently from waiting", async () => {
    const waiting = await run(compression, 4, 2);
    const overlapped = await run(compression, 4, 2, { overlap: 'delayed' });
    expect(overlapped.hashes).toHaveLength(4);
    for (const round of overlapped.hashes) expect(new Set(round).size).toBe(1);
    // The first round trains from θ_0 either way; from the second on, the overlapped peers
    // trained from a state one round older, so the committed states part.
    expect(overlapped.hashes[0]?.[0]).toBe(waiting.hashes[0]?.[0]);
    expect(overlapped.hashes[3]?.[0]).not.toBe(waiting.hashes[3]?.[0]);
    expect(await modelHash(overlapped.weights, overlapped.momentum)).toBe(overlapped.hashes[3]?.[0]);
  });

  it("start eagerly from their own stand-in for the aggregate in flight, and still land on the relay's state", async () => {
    const delayed = await run(compression, 4, 2, { overlap: 'delayed' });
    const eager = await run(compression, 4, 2, { overlap: 'eager', abortedRounds: new Set([2]) });
    expect(eager.hashes).toHaveLength(3);
    for (const round of eager.hashes) expect(new Set(round).size).toBe(1);
    // Round 1 trained from θ_0 less each peer's own round-0 change, not from θ_0.
    expect(eager.hashes[0]?.[0]).toBe(delayed.hashes[0]?.[0]);
    expect(eager.hashes[1]?.[0]).not.toBe(delayed.hashes[1]?.[0]);
  });

  it('keep the delayed state consistent when a round aborts while the next one trains', async () => {
    // Round 1 aborts after round 2 began training from θ_1; round 2's frame, computed from θ_1,
    // then applies to θ_1 (the state every peer still holds) and the peers land on the relay's.
    const result = await run(compression, 5, 2, { overlap: 'delayed', abortedRounds: new Set([1]) });
    expect(result.hashes).toHaveLength(4);
    for (const round of result.hashes) expect(new Set(round).size).toBe(1);
    expect(await modelHash(result.weights, result.momentum)).toBe(result.hashes[3]?.[0]);
  });
});
