// The relay's round coordinator on a manual clock with no sockets, and peers with real Ed25519
// keys that build real frames on the CPU (cpu-frame.ts): enough to drive every rule of a round
// (quorum and grace, benching, equivocation, robust aggregation, the guard) exactly.

import { expectedFrameBytes } from '../../protocol/compression-settings.ts';
import { maxFrameBytesInRunFormat } from '../../protocol/frame-format.ts';
import { initParams } from '../../protocol/init-params.ts';
import { modelHash } from '../../protocol/model-hash.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import type { RoundState } from '../../protocol/round-state-file.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import type { RelayMessage } from '../../protocol/swarm-messages.ts';
import { frameClaimMessage } from '../../protocol/swarm-signing.ts';
import { ManualClock } from '../../relay/clock.ts';
import { silentLogger } from '../../relay/logger.ts';
import {
  type CommitRecord,
  Coordinator,
  type CoordinatorOptions,
  type PeerLink,
} from '../../relay/rounds/coordinator.ts';
import type { RoundEvents } from '../../relay/rounds/round-events.ts';
import type { EquivocationProof, UploadOutcome } from '../../relay/rounds/round-frames.ts';
import { ShardPool } from '../../relay/rounds/shard-pool.ts';
import { resolveRunConfig } from '../../relay/run/run-config.ts';
import { generateKeyPair, identityFromKeyPair, type PeerIdentity } from '../../web/src/peer/identity.ts';
import { cpuFrame } from './cpu-frame.ts';
import { scriptedVector } from './scripted-volunteer.ts';

export const RUN_ID = 'harness-run';
export const ZERO_HASH = '0'.repeat(64);

/** A tiny model so the coordinator's own arithmetic is instant. */
export function harnessConfig(overrides: Record<string, unknown> = {}): RunConfig {
  const resolved = resolveRunConfig({
    model: { vocabSize: 64, contextLength: 16, dModel: 16, nLayer: 1, nHead: 2 },
    inner: { batchSize: 2, seqLen: 16 },
    ...overrides,
    schedule: {
      minPeers: 2,
      gatherMs: 100,
      minRoundMs: 60_000,
      maxRoundMs: 60_000,
      hashTimeoutMs: 2_000,
      quorum: 0.75,
      graceMs: 5_000,
      ...((overrides.schedule as object) ?? {}),
    },
    // Harness peers send made-up frames: the relay's checks (which redo the work) are off unless
    // a test turns them on.
    verification: { probationRounds: 0, checkProbability: 0, ...((overrides.verification as object) ?? {}) },
  });
  if (!resolved.ok) throw new Error(resolved.message);
  return resolved.config;
}

export interface HarnessPeer {
  readonly id: string;
  readonly identity: PeerIdentity;
  readonly inbox: RelayMessage[];
  last<T extends RelayMessage['type']>(type: T): Extract<RelayMessage, { type: T }> | undefined;
}

export interface Harness {
  readonly config: RunConfig;
  readonly clock: ManualClock;
  readonly coordinator: Coordinator;
  readonly commits: CommitRecord[];
  readonly proofs: EquivocationProof[];
  /** The states the relay saved, by hash. */
  readonly saved: Map<string, RoundState>;
  readonly totalFloats: number;
  join(name: string): Promise<HarnessPeer>;
  /** Everyone named says ready on the committed state; the round opens after gatherMs. */
  readyAll(peers: readonly HarnessPeer[]): void;
  /** `peer`'s frame for the open round from `values` (its honest vector when absent). */
  frame(peer: HarnessPeer, values?: Float32Array): Uint8Array;
  upload(peer: HarnessPeer, frame: Uint8Array): Promise<UploadOutcome>;
  /** Upload, then a manifest naming the frame; `holds` lists frames of others with their claims. */
  contribute(
    peer: HarnessPeer,
    frame?: Uint8Array,
    holds?: { peer: string; frameHash: string; claim: string }[],
  ): Promise<{ frameHash: string; claim: string }>;
  claim(peer: HarnessPeer, round: number, frameHash: string): Promise<string>;
  /** Lets the coordinator's promises (signature checks, the commit) settle. */
  settle(): Promise<void>;
  /** The round the coordinator has open (its assignment to `peer`). */
  assignment(peer: HarnessPeer): Extract<RelayMessage, { type: 'assignment' }>;
}

export async function createHarness(
  options: {
    config?: RunConfig;
    validate?: ((weights: Float32Array) => number) | null;
    pool?: ShardPool;
    events?: RoundEvents;
    /** Options the harness does not set itself (the operator's cooldown, ...). */
    more?: Partial<CoordinatorOptions>;
  } = {},
): Promise<Harness> {
  const config = options.config ?? harnessConfig();
  const layout = paramLayout(config.model);
  const clock = new ManualClock();
  const commits: CommitRecord[] = [];
  const proofs: EquivocationProof[] = [];
  const state = {
    weights: initParams(config.model, config.seed),
    momentum: new Float32Array(layout.totalFloats),
  };
  const hash = await modelHash(state.weights, state.momentum);
  const saved = new Map<string, RoundState>([[hash, state]]);
  const validate = options.validate === undefined ? null : options.validate;
  const coordinator = new Coordinator(
    {
      config,
      configHash: 'c'.repeat(64),
      runId: RUN_ID,
      layout,
      frameBytes: expectedFrameBytes(layout.totalFloats, config.round.compression),
      maxFrameBytes: maxFrameBytesInRunFormat(layout.totalFloats, config.round.compression),
      committed: { round: -1, modelHash: hash },
      trainTokens: async () => new Uint16Array(0),
      state,
      states: {
        save: async (_round, h, s) => saved.set(h, s),
        load: async (h) => saved.get(h) ?? null,
      },
      validate,
      pool: options.pool ?? new ShardPool(1_000_000),
      commit: async (record) => {
        commits.push(record);
        return {
          head: null,
          receipts: new Map(record.credits.map((c) => [c.peerKey, { round: record.round }])),
        };
      },
      clock,
      log: silentLogger,
      onEquivocation: (proof) => proofs.push(proof),
      events: options.events,
      ...options.more,
    },
    validate ? validate(state.weights) : null,
  );
  // A few turns for what an upload or a timer starts, then the decision itself, however long
  // its signature checks and hashing take on a loaded machine.
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
    await coordinator.settled();
  };
  const harness: Harness = {
    config,
    clock,
    coordinator,
    commits,
    proofs,
    saved,
    totalFloats: layout.totalFloats,
    async join(name) {
      const identity = await identityFromKeyPair(await generateKeyPair());
      const inbox: RelayMessage[] = [];
      const link: PeerLink = { id: identity.publicKey, name, send: (m) => inbox.push(m) };
      coordinator.join(link);
      return {
        id: identity.publicKey,
        identity,
        inbox,
        last: (type) => inbox.filter((m) => m.type === type).at(-1) as never,
      };
    },
    readyAll(peers) {
      const { round, modelHash: h } = coordinator.lastCommitted;
      for (const p of peers) coordinator.ready(p.id, round, h);
    },
    assignment(peer) {
      const a = peer.last('assignment');
      if (!a) throw new Error('no assignment');
      return a;
    },
    frame(peer, values) {
      const a = harness.assignment(peer);
      return cpuFrame(
        values ?? scriptedVector(layout.totalFloats, peer.id, a.round),
        config.round.compression,
        a.round,
        a.seed,
      );
    },
    async claim(peer, round, frameHash) {
      const { seed } = harness.assignment(peer);
      return peer.identity.sign(frameClaimMessage(RUN_ID, round, seed, frameHash));
    },
    async upload(peer, frame) {
      const { round } = harness.assignment(peer);
      const claim = await harness.claim(peer, round, await sha256Hex(frame));
      return coordinator.upload(peer.id, round, frame, claim);
    },
    async contribute(peer, frame, holds = []) {
      const bytes = frame ?? harness.frame(peer);
      const { round } = harness.assignment(peer);
      const frameHash = await sha256Hex(bytes);
      const claim = await harness.claim(peer, round, frameHash);
      await coordinator.upload(peer.id, round, bytes, claim);
      coordinator.manifest(peer.id, { round, frameHash, stateHash: ZERO_HASH, holds, trainLoss: 3 });
      await settle();
      return { frameHash, claim };
    },
    settle,
  };
  return harness;
}
