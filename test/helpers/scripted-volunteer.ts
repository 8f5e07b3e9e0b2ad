// A volunteer that speaks the real protocol (real Ed25519 keys and signatures, the real
// SwarmClient over a real WebSocket, real frame uploads and the relay's real HTTP API) but
// trains on no GPU: its pseudo-gradient is a small deterministic vector per peer and round,
// framed on the CPU in the run's format (cpu-frame.ts). It sums the counted frames with the
// peers' own arithmetic (protocol/round-update.ts), so an honest scripted peer lands on the
// state the relay commits exactly as a real one does. Knobs make it misbehave: go silent at a
// phase, scale or flip its vector, upload one frame and announce another, report a wrong hash.

import { WebSocket } from 'ws';
import { innerLoopReference, residualAfter } from '../../kernels/reference/inner-loop.ts';
import { frameOf } from '../../kernels/round/payload.ts';
import { errorDecayOf } from '../../protocol/compression-settings.ts';
import { expandFrame } from '../../protocol/expand-frame.ts';
import { initParams } from '../../protocol/init-params.ts';
import { encodeLocalState, type LocalState } from '../../protocol/local-state-file.ts';
import { modelHash } from '../../protocol/model-hash.ts';
import { noiseStreamOf } from '../../protocol/noise-stream.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import { createRng } from '../../protocol/rng.ts';
import { decodeRoundState, type RoundState } from '../../protocol/round-state-file.ts';
import { applyAggregate } from '../../protocol/round-update.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import type { RelayMessage } from '../../protocol/swarm-messages.ts';
import { decodeTensorFrame, encodeTensorFrame } from '../../protocol/tensor-frame.ts';
import { generateKeyPair, identityFromKeyPair, type PeerIdentity } from '../../web/src/peer/identity.ts';
import { RelayApi } from '../../web/src/peer/relay-api.ts';
import {
  SwarmClient as Client,
  type SwarmClient,
  type SwarmSocket,
} from '../../web/src/peer/swarm-client.ts';
import { cpuFrame } from './cpu-frame.ts';
import { freshStamps } from './test-stamps.ts';

export interface ScriptedBehaviour {
  /** Stop answering (stay connected) once this message arrives. */
  readonly silentAt?: 'assignment' | 'decision';
  /** Report a wrong model hash (the relay commits what it computed anyway). */
  readonly liar?: boolean;
  /** Multiplies this peer's vector: -20 is a sign flip ×20. */
  readonly scale?: number;
  /** Uploads one frame and signs a second, different one for the mesh: equivocation. */
  readonly equivocate?: boolean;
  /** Reported training speed (tokens/s): a claim the relay does not use. */
  readonly tokensPerSec?: number;
  /** Reported uplink (bytes/s): a claim the relay bounds. */
  readonly uplinkBytesPerSec?: number;
  /** Milliseconds between the assignment and the upload. */
  readonly trainMs?: number;
  /**
   * What it sends (default 'scripted': the deterministic vector, no training). 'cpu' trains for
   * real on its assigned tokens (kernels/reference/inner-loop.ts) and passes the relay's checks;
   * the free-riders send all zeros, noise, the last round's counted frame of another member
   * re-framed for this round ('stale'), or another volunteer's frame of this round ('copy').
   */
  readonly work?: 'scripted' | 'cpu' | 'zero' | 'random' | 'stale' | 'copy';
  /** For 'copy': whose frame it sends. */
  readonly copyOf?: ScriptedVolunteer;
  /** Leave the relay's checks unanswered. */
  readonly ignoreChecks?: boolean;
}

export interface ScriptedVolunteer {
  readonly identity: PeerIdentity;
  readonly client: SwarmClient;
  readonly receipts: unknown[];
  readonly messages: RelayMessage[];
  /** Round and hash this peer holds. */
  readonly held: { round: number; hash: string | null };
  /** The frame it sent last, by round. */
  readonly sent: Map<number, Uint8Array>;
  /** Resolves when this peer has seen `count` commits. */
  commits(count: number, timeoutMs?: number): Promise<void>;
  close(): void;
}

export const wsFactory = (url: string) => new WebSocket(url) as unknown as SwarmSocket;

/** Peer `peer`'s pseudo-gradient for `round`: small, deterministic, different per peer. */
export function scriptedVector(n: number, peer: string, round: number, scale = 1): Float32Array {
  let seed = round;
  for (const c of peer) seed = (seed * 31 + c.charCodeAt(0)) >>> 0;
  const rng = createRng(seed);
  const common = createRng(round + 7);
  // Shared direction plus a peer's own noise, as honest pseudo-gradients are.
  return Float32Array.from(
    { length: n },
    () => scale * 1e-3 * (common.nextNormal() + 0.5 * rng.nextNormal()),
  );
}

export async function startScriptedVolunteer(
  relayUrl: string,
  name: string,
  behaviour: ScriptedBehaviour = {},
  identity?: PeerIdentity,
): Promise<ScriptedVolunteer> {
  const me = identity ?? (await identityFromKeyPair(await generateKeyPair()));
  const client = await Client.connect({
    url: `${relayUrl.replace(/^http/, 'ws')}/swarm`,
    identity: me,
    stamps: freshStamps(me.publicKey),
    name,
    platform: 'node',
    socket: wsFactory,
  });
  const relay = new RelayApi(relayUrl, client.runId);
  const config: RunConfig = await relay.runConfig(client.configHash);
  const layout = paramLayout(config.model);
  let state: RoundState = {
    weights: initParams(config.model, config.seed),
    momentum: new Float32Array(layout.totalFloats),
  };
  const receipts: unknown[] = [];
  const messages: RelayMessage[] = [];
  const held = { round: -1, hash: (await modelHash(state.weights, state.momentum)) as string | null };
  let commitCount = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  let silent = false;
  let assignment: { round: number; seed: number } | null = null;
  let pending: { round: number; hash: string; state: RoundState } | null = null;
  const sent = new Map<number, Uint8Array>();
  const n = layout.totalFloats;
  let local: LocalState = {
    m: new Float32Array(n),
    v: new Float32Array(n),
    residual: new Float32Array(n),
    step: 0,
    round: -1,
  };
  let checkable: { round: number; bytes: Uint8Array } | null = null;

  // Messages are handled one at a time, in order, as the real peer runtime does.
  let queue = Promise.resolve();
  client.on((message) => {
    messages.push(message);
    if (silent) return;
    queue = queue
      .then(() => handle(message))
      .catch(() => {
        // The socket closed under an async reply: the test looks at what arrived.
      });
  });

  async function resync(round: number, hash: string): Promise<void> {
    if (hash !== held.hash) {
      const bytes = await relay.state(hash);
      if (!bytes) return; // not the relay's newest: ask again below, the answer says what to fetch
      const decoded = await decodeRoundState(config.model, bytes, hash);
      if (!decoded.ok) throw new Error(`${name}: relay state does not check out: ${decoded.message}`);
      state = decoded.state;
    }
    held.round = round;
    held.hash = hash;
  }

  /** This peer's frame for an assignment, as its behaviour says. */
  async function frameFor(a: Extract<RelayMessage, { type: 'assignment' }>): Promise<Uint8Array> {
    const reframe = (values: Float32Array) => cpuFrame(values, config.round.compression, a.round, a.seed);
    switch (behaviour.work ?? 'scripted') {
      case 'scripted':
        return reframe(scriptedVector(n, me.publicKey, a.round, behaviour.scale ?? 1));
      case 'cpu': {
        const done = innerLoopReference(config, local, {
          weights: state.weights,
          tokens: await relay.tokens(a.shard),
          innerSteps: a.innerSteps,
          learningRate: a.learningRate,
          seed: a.seed,
          noiseStream: noiseStreamOf(config.seed, me.publicKey),
        });
        local = {
          m: done.m,
          v: done.v,
          residual: residualAfter(done.acc, done.payload, errorDecayOf(config.round.compression)),
          step: done.step,
          round: a.round,
        };
        return encodeTensorFrame(frameOf(done.payload, a.round));
      }
      case 'zero':
        return reframe(new Float32Array(n));
      case 'random': {
        const rng = createRng(a.seed ^ 0x5eed);
        return reframe(Float32Array.from({ length: n }, () => 1e-3 * rng.nextNormal()));
      }
      case 'stale': {
        const last = a.group.find((m) => m.peer !== me.publicKey);
        const bytes = last ? await relay.countedFrame(a.round - 1, last.peer).catch(() => null) : null;
        const values = new Float32Array(n);
        const decoded = bytes ? decodeTensorFrame(bytes) : null;
        if (decoded?.ok) {
          const sparse = expandFrame(decoded.value);
          if (sparse.ok)
            sparse.value.indices.forEach((i, j) => {
              values[i] = sparse.value.values[j] as number;
            });
        }
        return reframe(values);
      }
      case 'copy': {
        for (let i = 0; i < 100; i++) {
          const copied = behaviour.copyOf?.sent.get(a.round);
          if (copied) return copied;
          await new Promise((r) => setTimeout(r, 20));
        }
        return reframe(new Float32Array(n));
      }
    }
  }

  async function handle(message: RelayMessage): Promise<void> {
    switch (message.type) {
      case 'resync':
        await resync(message.round, message.modelHash);
        client.ready(held.round, held.hash);
        return;
      case 'assignment': {
        if (behaviour.silentAt === 'assignment') {
          silent = true;
          return;
        }
        assignment = { round: message.round, seed: message.seed };
        const start = encodeLocalState({ ...local, round: held.round });
        checkable = { round: message.round, bytes: start };
        if (behaviour.trainMs) await new Promise((r) => setTimeout(r, behaviour.trainMs));
        const frame = await frameFor(message);
        sent.set(message.round, frame);
        const frameHash = await sha256Hex(frame);
        await relay.uploadFrame(
          message.round,
          me.publicKey,
          frame,
          await client.frameClaim(message.round, message.seed, frameHash),
        );
        if (behaviour.equivocate) {
          // A second frame for the same round, signed too: the relay must refuse and exclude.
          const other = cpuFrame(
            scriptedVector(n, me.publicKey, message.round, -20 * (behaviour.scale ?? 1)),
            config.round.compression,
            message.round,
            message.seed,
          );
          const otherHash = await sha256Hex(other);
          await relay
            .uploadFrame(
              message.round,
              me.publicKey,
              other,
              await client.frameClaim(message.round, message.seed, otherHash),
            )
            .catch(() => undefined);
        }
        await client.manifest({
          round: message.round,
          frameHash,
          frameBytes: frame.byteLength,
          stateHash: await sha256Hex(start),
          holds: [],
          trainLoss: 3 - message.round * 0.01,
        });
        return;
      }
      case 'decision': {
        if (behaviour.silentAt === 'decision') {
          silent = true;
          return;
        }
        if (assignment?.round !== message.round) return;
        // As a volunteer does: the relay's aggregate frame (here whole, as one piece), applied.
        const aggregate = await relay.aggregatePiece(message.round, 0, 1).catch(() => null);
        if (!aggregate || (await sha256Hex(aggregate)) !== message.aggregate.hash) return;
        const update = applyAggregate(
          state.weights,
          state.momentum,
          aggregate,
          {
            round: message.round,
            seed: assignment.seed,
            totalFloats: layout.totalFloats,
            compression: config.round.compression,
          },
          layout,
          config.round,
        );
        if (!update.ok) return;
        const hash = await modelHash(update.weights, update.momentum);
        pending = { round: message.round, hash, state: update };
        await client.modelHash(
          message.round,
          behaviour.liar ? await sha256Hex(new TextEncoder().encode(`lie|${name}`)) : hash,
        );
        return;
      }
      case 'commit':
        if (pending?.round === message.round && pending.hash === message.modelHash) {
          state = pending.state;
          held.round = message.round;
          held.hash = message.modelHash;
        } else await resync(message.round, message.modelHash);
        pending = null;
        commitCount++;
        for (const w of waiters.filter((w) => commitCount >= w.count)) w.resolve();
        client.ready(held.round, held.hash);
        return;
      case 'round-aborted':
        pending = null;
        client.ready(held.round, held.hash);
        return;
      case 'receipt':
        receipts.push(message.receipt);
        return;
      case 'check':
        if (behaviour.ignoreChecks || checkable?.round !== message.round) return;
        await relay.uploadLocalState(message.round, me.publicKey, checkable.bytes).catch(() => undefined);
        return;
      default:
        return;
    }
  }

  client.capabilities({
    adapter: { vendor: 'test', architecture: 'scripted', description: name, isSoftware: true },
    maxBufferBytes: 1 << 28,
    memoryBytes: 1 << 30,
    tokensPerSec: behaviour.tokensPerSec ?? 1000,
    uplinkBytesPerSec: behaviour.uplinkBytesPerSec ?? 1e7,
    downlinkBytesPerSec: 1e7,
  });
  client.ready(held.round, held.hash);

  return {
    identity: me,
    client,
    receipts,
    messages,
    held,
    sent,
    commits(count, timeoutMs = 30_000) {
      if (commitCount >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${name}: ${commitCount} of ${count} commits within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    close: () => client.close(),
  };
}
