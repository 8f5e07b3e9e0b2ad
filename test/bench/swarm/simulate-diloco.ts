// P virtual peers in one process, sharing the GPU, each with its own model replica (θ_local
// and AdamW state), shard, batch stream and error-feedback residual, run through the real
// round code (kernels/round/round-peer.ts): the same compression, frames, chunking,
// aggregation and outer step that volunteers run. Only the transport is in memory. The
// relay's part is played here: it opens each round with a shared seed, counts every
// contribution, and checks that every peer lands on the state its own copy reaches by applying
// the committed aggregates (rounds may overlap, or abort).

import { GpuCompressor } from '../../../kernels/compress/gpu-compressor.ts';
import { createModel } from '../../../kernels/gpt/create-model.ts';
import type { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { TuneCache } from '../../../kernels/gpu/autotune.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { RoundPeer } from '../../../kernels/round/round-peer.ts';
import type { TrainConfig } from '../../../kernels/train/config.ts';
import { type RandomSplit, randomBatches, Trainer } from '../../../kernels/train/trainer.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { modelHash } from '../../../protocol/model-hash.ts';
import { deriveSeed } from '../../../protocol/random-k.ts';
import { createRng } from '../../../protocol/rng.ts';
import {
  applyAggregate,
  type CountedFrame,
  type FrameExpectation,
  roundAggregate,
} from '../../../protocol/round-update.ts';
import type { RoundConfig } from '../../../protocol/run-config.ts';
import { MemoryNetwork } from '../../helpers/memory-transport.ts';
import { peerRng } from './peer-data.ts';

export interface SwarmSetup {
  readonly ctx: GpuContext;
  readonly model: GptConfig;
  /** One training shard per peer. */
  readonly shards: readonly RandomSplit[];
  /** Per-peer batch shape and the inner AdamW schedule; `steps` is ignored (rounds x H). */
  readonly train: TrainConfig;
  readonly round: RoundConfig;
  readonly rounds: number;
  /** θ_0. */
  readonly init: Float32Array;
  readonly tuneCache: TuneCache;
  /**
   * Overlap communication with compute: round r+1's inner steps run while round r's frames
   * travel, so round r's aggregate lands one round late. 'delayed': they start from the last
   * committed state (a one-round-delayed outer step); 'eager': from that state less the peer's
   * own round-r change, its stand-in for the aggregate still in flight (the frame is the change
   * from wherever it started). Absent: every round waits for the previous one to commit.
   */
  readonly overlap?: Overlap;
  /** Rounds the relay aborts after counting their frames: nobody applies them. */
  readonly abortedRounds?: ReadonlySet<number>;
  readonly onRound?: (report: RoundReport) => void;
}

export type Overlap = 'delayed' | 'eager';

export interface RoundReport {
  readonly round: number;
  readonly meanLoss: number;
  /** Frame bytes of each peer this round (before chunking). */
  readonly frameBytes: readonly number[];
  readonly hash: string;
}

export interface SwarmResult {
  readonly weights: Float32Array;
  /** The outer momentum, part of the hashed state. */
  readonly momentum: Float32Array;
  /** Mean over peers of the bytes each put on the wire, chunk headers included. */
  readonly bytesPerPeer: number;
  readonly tokens: number;
  /** Hash of every peer after every committed round, in commit order: hashes[i][p]. */
  readonly hashes: readonly (readonly string[])[];
  /** Mean wall seconds one peer's inner steps of one round took (the peers share one GPU, in turn). */
  readonly computeSecondsPerRound: number;
}

export async function simulateDiloco(setup: SwarmSetup): Promise<SwarmResult> {
  const { ctx, shards, round: roundConfig, rounds } = setup;
  const train = { ...setup.train, steps: rounds * roundConfig.innerSteps };
  const network = new MemoryNetwork();
  const models: GpuGpt[] = [];
  const compressors: GpuCompressor[] = [];
  try {
    const peers: {
      peer: RoundPeer;
      transport: ReturnType<MemoryNetwork['join']>;
      inbox: Map<string, Uint8Array>;
      model: GpuGpt;
    }[] = [];
    for (const [p, shard] of shards.entries()) {
      const id = `peer-${String(p).padStart(3, '0')}`;
      const model = await createModel(ctx, setup.model, {
        B: train.batchSize,
        T: train.seqLen,
        params: setup.init,
        tuneCache: setup.tuneCache,
      });
      models.push(model);
      const n = model.layout.totalFloats;
      const compressor = new GpuCompressor(ctx, n, roundConfig.compression, id);
      compressors.push(compressor);
      const trainer = new Trainer({
        model,
        config: train,
        train: randomBatches(shard, peerRng(train.seed, p)),
        now: () => performance.now(),
      });
      const transport = network.join(id);
      const inbox = new Map<string, Uint8Array>();
      transport.onMessage((from, message) => inbox.set(from, message));
      const peer = new RoundPeer({
        id,
        noiseStream: p,
        model,
        trainer,
        compressor,
        round: roundConfig,
        weights: setup.init,
      });
      peers.push({ peer, transport, inbox, model });
    }

    const layout = (models[0] as GpuGpt).layout;
    const hashes: string[][] = [];
    /** The round whose aggregate is still in flight (overlap only): it commits after the next trains. */
    let inFlight: {
      assignment: { round: number; seed: number };
      expected: FrameExpectation;
      aggregate: Uint8Array;
    } | null = null;
    // The relay's own copy of the committed state, moved only by the aggregates it commits: the
    // peers, whatever they trained from, must land on it.
    const relayState: { weights: Float32Array; momentum: Float32Array } = {
      weights: setup.init.slice(),
      momentum: new Float32Array(setup.init.length),
    };
    const land = async (flight: NonNullable<typeof inFlight>) => {
      if (setup.abortedRounds?.has(flight.assignment.round)) {
        for (const { peer } of peers) peer.discard();
        return;
      }
      const next = applyAggregate(
        relayState.weights,
        relayState.momentum,
        flight.aggregate,
        flight.expected,
        layout,
        roundConfig,
      );
      if (!next.ok) throw new Error(`round ${flight.assignment.round}: ${next.reason}`);
      relayState.weights = next.weights;
      relayState.momentum = next.momentum;
      const relayHash = await modelHash(next.weights, next.momentum);
      const roundHashes: string[] = [];
      for (const { peer } of peers) {
        const outcome = await peer.finish(flight.assignment, flight.aggregate);
        peer.commit(flight.assignment.round, outcome.hash); // in the simulator every round commits
        roundHashes.push(outcome.hash);
      }
      hashes.push(roundHashes);
      if (roundHashes.some((h) => h !== relayHash))
        throw new Error(
          `round ${flight.assignment.round}: the peers' hashes ${roundHashes.join(', ')} are not the relay's ${relayHash}`,
        );
    };
    /** Eager overlap: each peer's change over its last round (start − θ_local), uncompressed. */
    const ownChange: (Float32Array | undefined)[] = [];
    let tokens = 0;
    const order = createRng(train.seed ^ 0x5eed);
    let residual: Float32Array | null = null;
    let computeMs = 0;
    for (let r = 0; r < rounds; r++) {
      const assignment = { round: r, seed: deriveSeed(train.seed, r) };
      let lossSum = 0;
      const frameBytes: number[] = [];
      const own = new Map<string, Uint8Array>();
      for (const [p, { peer, model }] of peers.entries()) {
        const trainStarted = performance.now();
        const own = ownChange[p];
        const from = inFlight && setup.overlap === 'eager' && own ? minus(peer.weights, own) : peer.weights;
        const report = await peer.train(undefined, undefined, undefined, from);
        if (setup.overlap === 'eager') ownChange[p] = minus(from, await ctx.readFloats(model.params));
        computeMs += performance.now() - trainStarted;
        lossSum += report.meanLoss;
        tokens += report.tokens;
      }
      // With overlap, the previous round's aggregate arrived while these inner steps ran.
      if (inFlight) await land(inFlight);
      inFlight = null;
      for (const { peer, transport } of peers) {
        const frame = await peer.contribute(assignment);
        frameBytes.push(frame.byteLength);
        own.set(peer.id, frame);
        for (const other of peers) if (other.peer !== peer) await transport.send(other.peer.id, frame);
      }
      // Every contribution counts. The simulator is the relay: it aggregates the frames as they
      // reached one peer, in an arrival order of their own (shuffled here; the sum's fixed order
      // must make that irrelevant), compresses the aggregate with its carried residual, and
      // every peer applies that frame.
      const tokensEach = roundConfig.innerSteps * train.batchSize * train.seqLen;
      const first = peers[0] as (typeof peers)[number];
      const counted: CountedFrame[] = peers.map(({ peer: sender }) => ({
        peer: sender.id,
        tokens: tokensEach,
        frame:
          sender === first.peer
            ? (own.get(sender.id) as Uint8Array)
            : (first.inbox.get(sender.id) ?? new Uint8Array()),
      }));
      shuffle(counted, order);
      for (const { inbox } of peers) inbox.clear();
      const expected = {
        ...assignment,
        totalFloats: layout.totalFloats,
        compression: roundConfig.compression,
      };
      const relay = roundAggregate(counted, expected, layout, roundConfig, residual);
      if (relay.refused.length > 0)
        throw new Error(
          `the relay refused ${relay.refused.map((x) => `${x.peer}: ${x.error.code} ${x.error.message}`).join('; ')}`,
        );
      // The relay keeps its aggregate's residual only with a commit (as relay/rounds does).
      if (!setup.abortedRounds?.has(r)) residual = relay.residual;
      const flight = { assignment, expected, aggregate: relay.aggregate };
      if (setup.overlap) inFlight = flight;
      else await land(flight);
      setup.onRound?.({
        round: r,
        meanLoss: lossSum / peers.length,
        frameBytes,
        hash: hashes.at(-1)?.[0] ?? '',
      });
    }
    if (inFlight) await land(inFlight);
    const bytesPerPeer =
      peers.reduce((s, { transport }) => s + transport.traffic.bytesSent, 0) / peers.length;
    const first = (peers[0] as { peer: RoundPeer }).peer;
    return {
      weights: first.weights.slice(),
      momentum: first.momentum.slice(),
      bytesPerPeer,
      tokens,
      hashes,
      computeSecondsPerRound: computeMs / 1000 / (rounds * peers.length),
    };
  } finally {
    for (const model of models) model.destroy();
    for (const compressor of compressors) compressor.destroy();
  }
}

/** a − b in f32. */
function minus(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((x, i) => Math.fround(x - (b[i] as number)));
}

function shuffle<T>(items: T[], rng: { nextBelow(n: number): number }): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.nextBelow(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}
