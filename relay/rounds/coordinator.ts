// The round state machine on the relay (docs/ARCHITECTURE.md, "One training round"):
//
//   idle ──(minPeers ready, after gatherMs)──▶ training ──(all manifests, or deadline)──▶
//   hashing ──(all hashes, or hash deadline)──▶ committing ──▶ idle
//
// Opening a round assigns each member a shard and a number of inner steps sized by its speed.
// Closing it fixes the contributions every summing peer holds (decide.ts), then commits the
// model hash a majority reports and writes the credits in one ledger transaction. A peer
// that stops answering is simply not waited for past a deadline; its unused shard returns to
// the pool. Credits are computed here, from what was assigned and counted, never claimed.

import { trainingFlops } from '../../protocol/model-flops.ts';
import { deriveSeed } from '../../protocol/random-k.ts';
import { innerLearningRate, type RunConfig } from '../../protocol/run-config.ts';
import type { RelayMessage } from '../../protocol/swarm-messages.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { SwarmCoordinator } from '../swarm/swarm-coordinator.ts';
import { decideCounted, type ManifestSummary, tallyHashes } from './decide.ts';
import type { ShardPool, TokenRange } from './shard-pool.ts';
import { sizeRound } from './sizing.ts';

/** What the coordinator needs of a connected, authenticated peer. */
export interface PeerLink {
  readonly id: string;
  readonly name: string;
  send(message: RelayMessage): void;
}

export interface PeerSpeed {
  readonly tokensPerSec: number;
  readonly uplinkBytesPerSec: number;
}

export interface CreditLine {
  readonly peerKey: string;
  readonly tokens: number;
  /** 6 x parameters x tokens. */
  readonly flops: bigint;
  /** GPU time as the relay saw it: from the assignment to the manifest (not a claim). */
  readonly busyMs: number;
}

export interface CommitRecord {
  readonly round: number;
  readonly modelHash: string;
  readonly trainLoss: number | null;
  readonly shards: readonly TokenRange[];
  readonly credits: readonly CreditLine[];
}

export interface CommitOutcome {
  readonly head: { readonly height: number; readonly hash: string; readonly signature: string } | null;
  /** Receipt per credited peer key. */
  readonly receipts: ReadonlyMap<string, unknown>;
}

/** The ledger as the coordinator uses it: one transaction per round. */
export type CommitRound = (record: CommitRecord) => Promise<CommitOutcome>;

export interface CoordinatorOptions {
  readonly config: RunConfig;
  readonly configHash: string;
  /** Real parameters of the model (padding excluded): what credits count. */
  readonly paramCount: number;
  /** Expected bytes of one contribution frame, for the transfer part of the deadline. */
  readonly frameBytes: number;
  /** The last committed round (-1 before the first) and its model hash (θ_0's before it). */
  readonly committed: { readonly round: number; readonly modelHash: string };
  readonly pool: ShardPool;
  readonly commit: CommitRound;
  readonly clock: Clock;
  readonly log: Logger;
  /** Called after every commit (metrics, the API's progress, checkpoint requests). */
  /** Whether the relay still lacks the checkpoint of `hash` (late joiners need it). */
  readonly needsCheckpoint?: (hash: string) => boolean;
  /** Called after every commit with who reported the committed hash and who another one. */
  readonly onCommitted?: (
    record: CommitRecord,
    votes: { agreeing: readonly string[]; disagreeing: readonly string[] },
  ) => void;
}

interface PeerState {
  link: PeerLink;
  speed: PeerSpeed | null;
  /** Holds θ_r of the last commit and asked for work. */
  ready: boolean;
  /** When it was told to resync; the next round waits a little for it (catchUp below). */
  catchingUpSince: number | null;
  /** It did not catch up in time last time: rounds do not wait for it again until it does. */
  missedCatchUp: boolean;
}

interface Member {
  readonly shard: TokenRange;
  readonly innerSteps: number;
  readonly tokens: number;
}

interface OpenRound {
  readonly round: number;
  readonly seed: number;
  readonly members: Map<string, Member>;
  phase: 'training' | 'hashing' | 'committing';
  readonly openedAt: number;
  manifests: Map<string, ManifestSummary & { trainLoss: number | null; arrivedAt: number }>;
  counted: string[];
  summers: Set<string>;
  hashes: Map<string, string>;
  timer: unknown;
}

export interface ManifestInput {
  readonly round: number;
  readonly frameHash: string;
  readonly holds: readonly { readonly peer: string; readonly frameHash: string }[];
  readonly trainLoss: number | null;
}

const UPLOAD_ASK_INTERVAL_MS = 10_000;
/**
 * A peer told to resync (it missed a round, or joined during one) is waited for this long before
 * the next round opens without it. Rounds of a small model commit every few seconds; without the
 * wait the peers in the last round would say ready and start the next one before a peer that
 * must download the state could, again and again. Bounded, so a peer that never comes back costs
 * each round at most this, and only once (missedCatchUp).
 */
export const CATCH_UP_WAIT_MS = 10_000;
const CATCH_UP_POLL_MS = 250;

export class Coordinator implements SwarmCoordinator {
  readonly kind = 'rounds';
  private readonly peers = new Map<string, PeerState>();
  private current: OpenRound | null = null;
  private gatherTimer: unknown = null;
  private committed: { round: number; modelHash: string };
  private closed = false;
  /** When an upload of the committed state was last asked for, by hash: ask at most every 10 s. */
  private uploadAsked = new Map<string, number>();

  constructor(private readonly options: CoordinatorOptions) {
    this.committed = { ...options.committed };
  }

  get lastCommitted(): { readonly round: number; readonly modelHash: string } {
    return this.committed;
  }

  get roundInProgress(): { round: number; phase: string; members: number; deadline?: number } | null {
    const c = this.current;
    return c ? { round: c.round, phase: c.phase, members: c.members.size } : null;
  }

  get connectedPeers(): number {
    return this.peers.size;
  }

  join(link: PeerLink): void {
    this.peers.set(link.id, { link, speed: null, ready: false, catchingUpSince: null, missedCatchUp: false });
  }

  capabilities(id: string, speed: PeerSpeed): void {
    const peer = this.peers.get(id);
    if (peer) peer.speed = speed;
  }

  /** The peer holds `modelHash` (of round `round`) and asks for work. */
  ready(id: string, round: number, modelHash: string | null): void {
    const peer = this.peers.get(id);
    if (!peer) return;
    if (round !== this.committed.round || modelHash !== this.committed.modelHash) {
      peer.ready = false;
      this.catchUp(peer);
      peer.link.send({ type: 'resync', round: this.committed.round, modelHash: this.committed.modelHash });
      return;
    }
    peer.ready = true;
    peer.catchingUpSince = null;
    peer.missedCatchUp = false;
    this.askForCheckpoint(peer);
    if (this.current) {
      if (!this.current.members.has(id))
        peer.link.send({ type: 'wait', reason: `round ${this.current.round} is in progress`, retryAt: null });
      return;
    }
    this.scheduleOpen();
  }

  manifest(id: string, input: ManifestInput): void {
    const c = this.current;
    if (c?.phase !== 'training' || input.round !== c.round || !c.members.has(id) || c.manifests.has(id))
      return;
    c.manifests.set(id, {
      frameHash: input.frameHash,
      holds: new Map(input.holds.filter((h) => c.members.has(h.peer)).map((h) => [h.peer, h.frameHash])),
      trainLoss: input.trainLoss,
      arrivedAt: this.options.clock.now(),
    });
    if (c.manifests.size === this.liveMembers(c).length) this.decide(c);
  }

  modelHash(id: string, round: number, hash: string): void {
    const c = this.current;
    if (c?.phase !== 'hashing' || round !== c.round || !c.summers.has(id) || c.hashes.has(id)) return;
    c.hashes.set(id, hash);
    if ([...c.summers].every((s) => c.hashes.has(s) || !this.peers.has(s))) void this.finalize(c);
  }

  /** Pipeline steps have no place in a rounds run; the session refuses them first. */
  stageReport(): void {}

  /** The peer disconnected or said goodbye: never wait for it. */
  leave(id: string): void {
    this.peers.delete(id);
    const c = this.current;
    if (!c?.members.has(id)) return;
    if (c.phase === 'training' && c.manifests.size === this.liveMembers(c).length) this.decide(c);
    else if (c.phase === 'hashing' && [...c.summers].every((s) => c.hashes.has(s) || !this.peers.has(s)))
      void this.finalize(c);
  }

  close(): void {
    this.closed = true;
    this.options.clock.clearTimeout(this.gatherTimer);
    if (this.current) this.options.clock.clearTimeout(this.current.timer);
  }

  /** A synced peer is asked to upload the committed state when the relay does not hold it. */
  private askForCheckpoint(peer: PeerState): void {
    const { round, modelHash } = this.committed;
    if (round < 0 || !this.options.needsCheckpoint?.(modelHash)) return;
    const now = this.options.clock.now();
    if (now - (this.uploadAsked.get(modelHash) ?? Number.NEGATIVE_INFINITY) < UPLOAD_ASK_INTERVAL_MS) return;
    this.uploadAsked.set(modelHash, now);
    peer.link.send({ type: 'upload-request', round, modelHash });
  }

  private catchUp(peer: PeerState): void {
    if (!peer.missedCatchUp) peer.catchingUpSince ??= this.options.clock.now();
  }

  /** Whether a peer is still fetching the committed state within its wait; expired waits end. */
  private someoneCatchingUp(): boolean {
    const now = this.options.clock.now();
    let waiting = false;
    for (const peer of this.peers.values()) {
      if (peer.catchingUpSince === null) continue;
      if (now - peer.catchingUpSince >= CATCH_UP_WAIT_MS) {
        peer.catchingUpSince = null;
        peer.missedCatchUp = true;
      } else waiting = true;
    }
    return waiting;
  }

  private liveMembers(c: OpenRound): string[] {
    return [...c.members.keys()].filter((id) => this.peers.has(id) || c.manifests.has(id));
  }

  private scheduleOpen(): void {
    if (this.closed || this.current || this.gatherTimer !== null) return;
    const readyCount = [...this.peers.values()].filter((p) => p.ready).length;
    if (readyCount < this.options.config.schedule.minPeers) return;
    this.gatherTimer = this.options.clock.setTimeout(
      () => this.openOrWait(),
      this.options.config.schedule.gatherMs,
    );
  }

  /** Opens the round, unless a peer that is catching up may still make it (then looks again). */
  private openOrWait(): void {
    this.gatherTimer = null;
    if (this.closed || this.current) return;
    if (this.someoneCatchingUp()) {
      this.gatherTimer = this.options.clock.setTimeout(() => this.openOrWait(), CATCH_UP_POLL_MS);
      return;
    }
    this.open();
  }

  private open(): void {
    const { config, clock, pool, log } = this.options;
    const candidates = [...this.peers.values()].filter((p) => p.ready);
    if (this.current || candidates.length < config.schedule.minPeers) return;
    const { batchSize: B, seqLen: T } = config.inner;
    const tokensPerStep = B * T;
    const sizing = sizeRound(
      candidates.map((p) => ({
        peer: p.link.id,
        tokensPerSec: p.speed?.tokensPerSec ?? 0,
        uplinkBytesPerSec: p.speed?.uplinkBytesPerSec ?? 0,
      })),
      {
        ...config.schedule,
        innerSteps: config.round.innerSteps,
        tokensPerStep,
        minMembers: config.schedule.minPeers,
      },
    );
    const round = this.committed.round + 1;
    const members = new Map<string, Member>();
    // No round is in progress, so no range is held: a spent epoch can roll over now.
    pool.rollUnlessServes(sizing.shares.length, tokensPerStep + 1);
    for (const [i, share] of sizing.shares.entries()) {
      // Windows of T + 1 tokens step by T through the range: steps x B windows need this many.
      // Near the end of an epoch what is left is split among the members still to serve,
      // rather than the first one taking it all and the others sitting the round out.
      const minTokens = tokensPerStep + 1;
      const fairShare = Math.floor(pool.freeTokens / (sizing.shares.length - i));
      const wanted = Math.min(share.innerSteps * tokensPerStep + 1, Math.max(minTokens, fairShare));
      const shard = pool.take(wanted, minTokens, members.size);
      if (!shard) break;
      const innerSteps = Math.max(1, Math.floor((shard.end - shard.start - 1) / tokensPerStep));
      members.set(share.peer, { shard, innerSteps, tokens: innerSteps * tokensPerStep });
    }
    if (members.size === 0) return;
    const deadline = clock.now() + this.roundMillis(sizing.innerSeconds, members.size, candidates);
    const c: OpenRound = {
      round,
      seed: deriveSeed(config.seed, round),
      members,
      openedAt: clock.now(),
      phase: 'training',
      manifests: new Map(),
      counted: [],
      summers: new Set(),
      hashes: new Map(),
      timer: clock.setTimeout(() => this.decide(c), deadline - clock.now()),
    };
    this.current = c;
    const group = [...members].map(([peer, m]) => ({
      peer,
      name: this.peers.get(peer)?.link.name ?? '',
      innerSteps: m.innerSteps,
    }));
    for (const [peer, m] of members) {
      const state = this.peers.get(peer);
      if (!state) continue;
      state.ready = false;
      state.link.send({
        type: 'assignment',
        round,
        configHash: this.options.configHash,
        modelHash: this.committed.modelHash,
        seed: c.seed,
        group,
        shard: m.shard,
        innerSteps: m.innerSteps,
        learningRate: innerLearningRate(config, round),
        deadline,
      });
    }
    for (const id of sizing.waiting)
      this.peers.get(id)?.link.send({ type: 'wait', reason: 'not in this round’s group', retryAt: deadline });
    log.info({ round, members: members.size, deadline }, 'round opened');
  }

  /** Expected inner time with slack, plus the all-gather over the slowest uplink, clamped. */
  private roundMillis(innerSeconds: number, groupSize: number, candidates: readonly PeerState[]): number {
    const { schedule } = this.options.config;
    const uplinks = candidates.map((p) => p.speed?.uplinkBytesPerSec ?? 0).filter((u) => u > 0);
    const slowestUplink = uplinks.length > 0 ? Math.min(...uplinks) : 1e6;
    const transferSeconds = (this.options.frameBytes * Math.max(0, groupSize - 1)) / slowestUplink;
    const ms = 1000 * schedule.deadlineSlack * (innerSeconds + transferSeconds);
    return Math.round(Math.min(schedule.maxRoundMs, Math.max(schedule.minRoundMs, ms)));
  }

  private decide(c: OpenRound): void {
    if (this.current !== c || c.phase !== 'training') return;
    const { clock, config } = this.options;
    clock.clearTimeout(c.timer);
    const { counted, summers } = decideCounted(c.manifests);
    if (counted.length === 0) {
      this.abort(
        c,
        c.manifests.size === 0 ? 'no manifest arrived before the deadline' : 'no frame is held by a majority',
      );
      return;
    }
    c.phase = 'hashing';
    c.counted = [...counted];
    c.summers = new Set(summers);
    const deadline = clock.now() + config.schedule.hashTimeoutMs;
    const decision: RelayMessage = {
      type: 'decision',
      round: c.round,
      counted: counted.map((peer) => ({
        peer,
        tokens: (c.members.get(peer) as Member).tokens,
        frameHash: (c.manifests.get(peer) as ManifestSummary).frameHash,
      })),
      deadline,
    };
    for (const id of c.manifests.keys()) this.peers.get(id)?.link.send(decision);
    c.timer = clock.setTimeout(() => void this.finalize(c), config.schedule.hashTimeoutMs);
  }

  private async finalize(c: OpenRound): Promise<void> {
    if (this.current !== c || c.phase !== 'hashing') return;
    const { clock, log, paramCount } = this.options;
    clock.clearTimeout(c.timer);
    c.phase = 'committing';
    const tally = tallyHashes(c.hashes);
    if (!tally.winner) {
      if (c.hashes.size > 0)
        log.warn({ round: c.round, hashes: Object.fromEntries(c.hashes) }, 'model hashes split');
      this.abort(c, c.hashes.size === 0 ? 'no model hash arrived' : 'no majority on the model hash');
      return;
    }
    const losses = [...c.manifests.values()].map((m) => m.trainLoss).filter((l): l is number => l !== null);
    const record: CommitRecord = {
      round: c.round,
      modelHash: tally.winner,
      trainLoss: losses.length > 0 ? losses.reduce((a, b) => a + b, 0) / losses.length : null,
      shards: c.counted.map((peer) => (c.members.get(peer) as Member).shard),
      credits: c.counted.map((peer) => {
        const { tokens } = c.members.get(peer) as Member;
        const busyMs = Math.max(0, Math.round((c.manifests.get(peer)?.arrivedAt ?? c.openedAt) - c.openedAt));
        return { peerKey: peer, tokens, flops: trainingFlops(paramCount, tokens), busyMs };
      }),
    };
    let outcome: CommitOutcome;
    try {
      outcome = await this.options.commit(record);
    } catch (error) {
      log.error({ round: c.round, err: error }, 'round commit failed; aborting the round');
      this.abort(c, 'the ledger could not record the round');
      return;
    }
    for (const [peer, m] of c.members) if (!c.counted.includes(peer)) this.options.pool.release(m.shard);
    this.committed = { round: c.round, modelHash: tally.winner };
    this.current = null;
    log.info(
      { round: c.round, modelHash: tally.winner, counted: c.counted.length, disagreeing: tally.disagreeing },
      'round committed',
    );
    // One agreeing peer, in turn, uploads the weights so late joiners can fetch them.
    const uploader =
      c.round % this.options.config.schedule.checkpointEvery === 0
        ? tally.agreeing[c.round % tally.agreeing.length]
        : undefined;
    const commit = (id: string): RelayMessage => ({
      type: 'commit',
      round: c.round,
      modelHash: tally.winner as string,
      head: outcome.head,
      uploadCheckpoint: id === uploader,
    });
    const resync: RelayMessage = { type: 'resync', round: c.round, modelHash: tally.winner };
    for (const id of c.members.keys()) {
      const peer = this.peers.get(id);
      if (!peer) continue;
      const link = peer.link;
      if (!tally.agreeing.includes(id)) this.catchUp(peer);
      link.send(tally.agreeing.includes(id) ? commit(id) : resync);
      const receipt = outcome.receipts.get(id);
      if (receipt !== undefined) link.send({ type: 'receipt', receipt });
    }
    // Peers that said ready while the round ran hold the state it started from, which is no
    // longer the committed one: assigned as they are, they would train and sum from stale
    // weights and split the next round's hashes. They catch up first.
    for (const [id, peer] of this.peers)
      if (peer.ready && !c.members.has(id)) {
        peer.ready = false;
        this.catchUp(peer);
        peer.link.send(resync);
      }
    this.options.onCommitted?.(record, { agreeing: tally.agreeing, disagreeing: tally.disagreeing });
    this.scheduleOpen();
  }

  private abort(c: OpenRound, reason: string): void {
    this.options.clock.clearTimeout(c.timer);
    for (const m of c.members.values()) this.options.pool.release(m.shard);
    this.current = null;
    this.options.log.warn({ round: c.round, reason }, 'round aborted');
    for (const id of c.members.keys())
      this.peers.get(id)?.link.send({ type: 'round-aborted', round: c.round, reason });
    this.scheduleOpen();
  }
}
