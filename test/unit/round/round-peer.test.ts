// The relay refuses a counted frame it cannot use (garbage, another round) with a typed error
// and aggregates the rest whatever their order; every peer that applies the aggregate frame
// lands on the relay's state, and one given altered bytes refuses them and keeps θ_r.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { GpuCompressor } from '../../../kernels/compress/gpu-compressor.ts';
import { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { defaultTuning } from '../../../kernels/ops/matmul-tuning.ts';
import { RoundPeer } from '../../../kernels/round/round-peer.ts';
import { DEFAULT_TRAIN } from '../../../kernels/train/config.ts';
import { randomBatches, Trainer } from '../../../kernels/train/trainer.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { modelHash } from '../../../protocol/model-hash.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import { createRng } from '../../../protocol/rng.ts';
import { PLAIN_MEAN } from '../../../protocol/robust-aggregate.ts';
import { roundAggregate, roundUpdate } from '../../../protocol/round-update.ts';
import { brownSample } from '../../helpers/brown-sample.ts';
import { MemorySplit } from '../../helpers/memory-split.ts';
import { MemoryNetwork } from '../../helpers/memory-transport.ts';
import { nodeContext } from '../../helpers/node-context.ts';

const MODEL: GptConfig = { vocabSize: 256, contextLength: 16, dModel: 16, nLayer: 1, nHead: 2 };
const COMPRESSION = { randomK: 0.5, topK: 0.5, bits: 8, blockSize: 32 } as const;
const ROUND = {
  innerSteps: 2,
  outerLr: 0.7,
  outerMomentum: 0.9,
  compression: COMPRESSION,
  aggregation: PLAIN_MEAN,
  aggregateBits: 2 as const,
};
const owned: { destroy(): void }[] = [];
let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeContext();
});
afterAll(() => {
  for (const o of owned) o.destroy();
});

function peer(id: string, p: number): RoundPeer {
  const model = new GpuGpt(ctx, MODEL, { B: 2, T: 16, matmul: defaultTuning(ctx.adapter) });
  const compressor = new GpuCompressor(ctx, model.layout.totalFloats, COMPRESSION, id);
  owned.push(model, compressor);
  const config = { ...DEFAULT_TRAIN, model: MODEL, batchSize: 2, seqLen: 16, steps: 10, warmupSteps: 1 };
  const trainer = new Trainer({
    model,
    config,
    train: randomBatches(new MemorySplit(brownSample(2).train, 256), createRng(p)),
    now: () => 0,
  });
  return new RoundPeer({
    id,
    noiseStream: p,
    model,
    trainer,
    compressor,
    round: ROUND,
    weights: initParams(MODEL, 3),
  });
}

it("aggregates the usable frames in any order, and every peer lands on the relay's state", async () => {
  const a = peer('a', 0);
  const b = peer('b', 1);
  const assignment = { round: 0, seed: 99 };
  await a.train();
  await b.train();
  const frameA = await a.contribute(assignment);
  const frameB = await b.contribute(assignment);
  // b's frame goes through the chunked in-memory network, as it would over WebRTC.
  const network = new MemoryNetwork();
  const toA = network.join('a');
  const fromB = network.join('b');
  let received: Uint8Array | null = null;
  toA.onMessage((_, m) => {
    received = m;
  });
  await fromB.send('a', frameB);
  expect(received).toEqual(frameB);
  expect(fromB.traffic.messagesSent).toBe(1);
  expect(fromB.traffic.bytesSent).toBeGreaterThan(frameB.length);
  const otherRound = await b.contribute({ round: 1, seed: 99 });
  const counted = (frames: [string, Uint8Array][]) =>
    frames.map(([peer, frame]) => ({ peer, tokens: 64, frame }));
  const hostile: [string, Uint8Array][] = [
    ['a', frameA],
    ['b', frameB],
    ['garbage', Uint8Array.of(1, 2, 3)],
    ['late', otherRound],
  ];
  const expected = { ...assignment, totalFloats: a.weights.length, compression: ROUND.compression };
  const layout = paramLayout(MODEL);
  const relay = roundUpdate(a.weights, a.momentum, counted(hostile), expected, layout, ROUND);
  const reversed = roundAggregate(counted([...hostile].reverse()), expected, layout, ROUND);
  if (!relay.ok) throw new Error(relay.reason);
  expect(relay.refused.map((r) => [r.peer, r.error.code])).toEqual([
    ['garbage', 'ERR_FRAME_TRUNCATED'],
    ['late', 'ERR_FRAME_FIELD'],
  ]);
  expect(reversed.aggregate).toEqual(relay.aggregate);
  const committed = await modelHash(relay.weights, relay.momentum);
  const outcomeA = await a.finish(assignment, relay.aggregate);
  const outcomeB = await b.finish(assignment, relay.aggregate);
  expect(outcomeA.hash).toBe(committed);
  expect(outcomeB.hash).toBe(committed);
  // The outcome stays pending until the relay commits it: an aborted round leaves θ_r.
  const before = a.weights.slice();
  expect(a.commit(assignment.round, 'f'.repeat(64))).toBe(false);
  expect(a.weights).toEqual(before);
  expect(b.commit(assignment.round, outcomeB.hash)).toBe(true);
  expect(b.weights).not.toEqual(before);
  // Altered aggregate bytes are refused with a typed error; θ_r stays.
  const altered = relay.aggregate.slice();
  altered[altered.length - 1] = (altered[altered.length - 1] as number) ^ 1;
  await expect(a.finish(assignment, altered)).rejects.toMatchObject({ code: 'ERR_ROUND_AGGREGATE' });
  expect(a.weights).toEqual(before);
  await a.finish(assignment, relay.aggregate);
  expect(a.commit(assignment.round, outcomeA.hash)).toBe(true);
  expect(a.weights).toEqual(b.weights);
  expect(a.momentum).toEqual(b.momentum);
});
