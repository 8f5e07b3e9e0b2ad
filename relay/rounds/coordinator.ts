// The round state machine on the relay (docs/ARCHITECTURE.md, "One training round"):
//
//   idle ──(minPeers ready, after gatherMs)──▶ training ──(every frame in; or a quorum of
//   them plus graceMs; or the deadline)──▶ deciding ──▶ idle
//
// Opening a round assigns each member a shard and a number of inner steps sized by the speed
// the relay measured (claims are not used). Each member uploads its frame with a signed claim
// (round-frames.ts) and sends a signed manifest. Deciding counts the valid frames the relay
// holds from members that sent a manifest naming them, minus proven equivocators; the relay
// then computes θ_{r+1} itself with the peers' own arithmetic (protocol/round-update.ts),
// scores it on a held-out batch (state-guard.ts), and commits it with the credits in one
// ledger transaction. No head count of peers decides anything: peers' hash reports are only
// compared with the committed hash. A member that did not get a contribution counted is
// benched with back-off (benching.ts).

import { pieceRange } from '../../protocol/aggregate-piece.ts';
import type { CooldownBody } from '../../protocol/cooldown-api.ts';
import { trainingFlops } from '../../protocol/model-flops.ts';
import { modelHash } from '../../protocol/model-hash.ts';
import { noiseStreamOf } from '../../protocol/noise-stream.ts';
import type { ParamLayout } from '../../protocol/param-layout.ts';
import { deriveSeed } from '../../protocol/random-k.ts';
import type { AggregationReport } from '../../protocol/robust-aggregate.ts';
import { encodeRoundState, type RoundState } from '../../protocol/round-state-file.ts';
import { type CountedFrame, roundUpdate } from '../../protocol/round-update.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { encodeStatePiece } from '../../protocol/state-piece-message.ts';
import { pieceAt, proofFor, type StateTree, stateTree } from '../../protocol/state-tree.ts';
import { MAX_STATE_HOLDERS, type RelayMessage } from '../../protocol/swarm-messages.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { SwarmCoordinator } from '../swarm/swarm-coordinator.ts';
import { Benching } from './benching.ts';
import type { CooldownRecord } from './cooldown-record.ts';
import { cryptoRandom, regroup, shuffled } from './groups.ts';
import type { PendingCheckRecord } from './pending-check-record.ts';
import type { AbortCause, RoundEvents } from './round-events.ts';
import { type EquivocationProof, RoundFrames, type UploadOutcome } from './round-frames.ts';
import { type CooldownOutcome, RunCooldown } from './run-cooldown.ts';
import type { ShardPool, TokenRange } from './shard-pool.ts';
import { sizeRound } from './sizing.ts';
import { type KeptState, StateGuard } from './state-guard.ts';
import { screenContributions } from './usefulness.ts';
import {
  type Ban,
  MAX_OPEN_CHECKS_ON_PROBATION,
  type RevealOutcome,
  type Settlement,
  Verification,
} from './verification.ts';
import { checkWork, type WorkToCheck, type WorkVerdict } from './work-check.ts';

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
  /** GPU time as the relay saw it: from the assignment to the frame's upload (not a claim). */
  readonly busyMs: number;
  /** Provisional until a check of this member settles it (verification.ts). */
  readonly status: 'verified' | 'provisional';
}

export interface CommitRecord {
  readonly round: number;
  readonly modelHash: string;
  readonly trainLoss: number | null;
  readonly shards: readonly TokenRange[];
  readonly credits: readonly CreditLine[];
  /** Every credited member with the name shown and the GPU time the relay measured. */
  readonly members: readonly { readonly peerKey: string; readonly name: string; readonly busyMs: number }[];
  /** Outcomes of checks judged since the last commit. */
  readonly settlements: readonly Settlement[];
  readonly bans: readonly Ban[];
}

export interface CommitOutcome {
  readonly head: { readonly height: number; readonly hash: string; readonly signature: string } | null;
  /** Receipt per credited peer key. */
  readonly receipts: ReadonlyMap<string, unknown>;
}

/** The ledger as the coordinator uses it: one transaction per round. */
export type CommitRound = (record: CommitRecord) => Promise<CommitOutcome>;

/** Where the relay keeps the states it commits (relay/checkpoints/checkpoint-store.ts). */
export interface StateStore {
  save(round: number, hash: string, state: RoundState): Promise<unknown>;
  /** A kept state by hash, or null. */
  load(hash: string): Promise<RoundState | null>;
}

export interface CoordinatorOptions {
  readonly config: RunConfig;
  readonly configHash: string;
  readonly runId: string;
  readonly layout: ParamLayout;
  /** Expected bytes of one contribution frame, for the transfer part of the deadline. */
  readonly frameBytes: number;
  /** The most bytes a frame in the run's format can take: uploads above it are refused. */
  readonly maxFrameBytes: number;
  /** The last committed round (-1 before the first), its model hash and its state. */
  readonly committed: { readonly round: number; readonly modelHash: string };
  readonly state: RoundState;
  readonly states: StateStore;
  /** Validation loss of a state on the guard's held-out batch; null when the guard is off. */
  readonly validate: ((weights: Float32Array) => number) | null;
  readonly pool: ShardPool;
  readonly commit: CommitRound;
  readonly clock: Clock;
  readonly log: Logger;
  /** Keys proven to equivocate or banned earlier: never seated. */
  readonly excluded?: ReadonlySet<string>;
  /** Tokens [start, end) of the training split: what a checked member was assigned. */
  readonly trainTokens: (range: TokenRange) => Promise<ArrayLike<number>>;
  /** Rounds each key passed a check in (the ledger's standings): probation survives a restart. */
  readonly verifiedRounds?: ReadonlyMap<string, number>;
  /** Where asked-for checks are kept until settled (pending-check-record.ts). */
  readonly pendingChecks?: Pick<PendingCheckRecord, 'add' | 'settled'>;
  /** Checks a relay that stopped had asked for: their members' unsettled credit is forfeited. */
  readonly lostChecks?: readonly { readonly peer: string; readonly round: number }[];
  /** The CPU redo of a checked round; work-check.ts inline unless given (a worker thread). */
  readonly checkWork?: (work: WorkToCheck) => Promise<WorkVerdict>;
  /** Called by close(): what the options hold open (the work-check thread). */
  readonly onClose?: () => void;
  readonly onEquivocation?: (proof: EquivocationProof) => void;
  /** Called after every commit with the peers whose reported hash disagreed so far. */
  readonly onCommitted?: (record: CommitRecord) => void;
  readonly onRolledBack?: (round: number, toRound: number, reason: string) => void;
  /** Rounds opened, committed and aborted, frames not counted, bans: the operator's metrics. */
  readonly events?: RoundEvents;
  /** The round the operator started the cooldown at, as the database holds it (run-cooldown.ts). */
  readonly cooldownTriggered?: number | null;
  /** Where the operator's start of the cooldown is written before it is answered. */
  readonly cooldowns?: Pick<CooldownRecord, 'start'>;
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

interface Manifest {
  readonly frameHash: string;
  readonly stateHash: string;
  readonly holds: readonly ManifestInput['holds'][number][];
  readonly trainLoss: number | null;
}

interface OpenRound {
  readonly round: number;
  readonly seed: number;
  /** The inner rate every member trains at, fixed at opening: a check redoes the round at it. */
  readonly learningRate: number;
  readonly members: Map<string, Member>;
  /** Each member's group (sorted ids, itself included): whom it passes aggregate pieces to. */
  readonly groupOf: ReadonlyMap<string, readonly string[]>;
  phase: 'training' | 'deciding';
  readonly openedAt: number;
  readonly deadline: number;
  readonly frames: RoundFrames;
  readonly manifests: Map<string, Manifest>;
  readonly equivocators: Set<string>;
  /**
   * Members that connected again during the round (a reload, a relay of the cluster that died):
   * a new connection starts afresh, so their work for this round is not waited for.
   */
  readonly rejoined: Set<string>;
  timer: unknown;
  graceTimer: unknown;
}

export interface ManifestInput {
  readonly round: number;
  readonly frameHash: string;
  readonly stateHash: string;
  readonly holds: readonly { readonly peer: string; readonly frameHash: string; readonly claim: string }[];
  readonly trainLoss: number | null;
}

/** The frames of the last committed round, for peers that lack one (GET .../frames/:peer). */
export interface CommittedFrames {
  readonly round: number;
  readonly frames: ReadonlyMap<string, Uint8Array>;
  /** The round's aggregate frame, which every member applies (GET .../aggregate). */
  readonly aggregate: Uint8Array;
}

/**
 * A peer told to resync (it missed a round, or joined during one) is waited for this long before
 * the next round opens without it. Bounded, so a peer that never comes back costs each round at
 * most this, and only once (missedCatchUp).
 */
export const CATCH_UP_WAIT_MS = 10_000;
const CATCH_UP_POLL_MS = 250;
const EXCLUDED = 'this key signed two different frames for one round and is excluded from the run';
/** Frames' worth of bytes a volunteer sends in a round: its own, and aggregate pieces passed on. */
const VOLUNTEER_FRAMES_PER_ROUND = 3;
/** Uplink claims are only used for the transfer part of the deadline, and bounded there. */
export const UPLINK_BOUNDS = { min: 100_000, max: 1e9 } as const;

export class Coordinator implements SwarmCoordinator {
  readonly kind = 'rounds';
  private readonly peers = new Map<string, PeerState>();
  private current: OpenRound | null = null;
  private gatherTimer: unknown = null;
  private committed: { round: number; modelHash: string };
  private state: RoundState;
  private closed = false;
  private readonly guard: StateGuard | null = null;
  private readonly benching = new Benching();
  private readonly excluded: Set<string>;
  /** Tokens per second the relay measured per peer key: assignment to upload. */
  private readonly measured = new Map<string, number>();
  private lastFrames: CommittedFrames | null = null;
  /** The groups of the last round opened: kept where membership allows (groups.ts). */
  private groups: readonly (readonly string[])[] = [];
  /** The committed state's file and hash tree, served in pieces to volunteers that catch up. */
  private served: ServedState | null = null;
  /** Members that applied the last committed round: a catching-up volunteer fetches from them. */
  private holders: string[] = [];
  /** What the last aggregate frames did not carry (aggregate-frame.ts); null after a rollback. */
  private aggregateResidual: Float32Array | null = null;
  /** The committed state's loss on the held-out batch; null when the relay does not score. */
  private committedLoss: number | null;
  /** The members of the round decided last, so one that delivers late is not taken for silent. */
  private lastDecided: { round: number; members: ReadonlySet<string> } | null = null;
  /** The decisions started so far, chained: settled() waits for them. */
  private deciding: Promise<void> = Promise.resolve();
  private readonly verification: Verification;
  private readonly cooldown: RunCooldown;
  /** Rounds whose new state the guard refused. */
  rolledBack = 0;
  /** Hash reports that differed from the committed hash. */
  hashDisagreements = 0;

  constructor(
    private readonly options: CoordinatorOptions,
    initialValLoss: number | null = null,
  ) {
    this.committed = { ...options.committed };
    this.state = options.state;
    this.excluded = new Set(options.excluded ?? []);
    this.committedLoss = options.validate ? initialValLoss : null;
    this.cooldown = new RunCooldown(options.config, options.cooldownTriggered ?? null, options.cooldowns);
    this.verification = new Verification({
      config: options.config.verification,
      totalFloats: options.layout.totalFloats,
      clock: options.clock,
      log: options.log,
      check: options.checkWork ?? (async (work) => checkWork(work)),
      trainTokens: options.trainTokens,
      verifiedRounds: options.verifiedRounds,
      record: options.pendingChecks,
      lost: options.lostChecks,
      onBan: (ban) => this.banned(ban),
    });
    // The state it starts from is served too (a restart, θ_0), once its tree is computed.
    void servedState(options.config, options.state, options.committed.modelHash).then((served) => {
      this.served ??= served;
    });
    const { guard } = options.config;
    if (options.validate && initialValLoss !== null)
      this.guard = new StateGuard(guard.rollbackMargin, guard.keepCheckpoints, {
        ...this.committed,
        valLoss: initialValLoss,
      });
  }

  get lastCommitted(): { readonly round: number; readonly modelHash: string } {
    return this.committed;
  }

  /** Keys proven to have equivocated: never seated again. */
  get excludedPeers(): ReadonlySet<string> {
    return this.excluded;
  }

  get committedFrames(): CommittedFrames | null {
    return this.lastFrames;
  }

  get roundInProgress(): { round: number; phase: string; members: number; deadline?: number } | null {
    const c = this.current;
    return c ? { round: c.round, phase: c.phase, members: c.members.size, deadline: c.deadline } : null;
  }

  get connectedPeers(): number {
    return this.peers.size;
  }

  /** The round that opens next: rounds already handed out keep the rate they opened with. */
  private get nextRound(): number {
    return (this.current?.round ?? this.committed.round) + 1;
  }

  /** The run's learning-rate schedule and where its cooldown stands (GET .../cooldown). */
  cooldownView(): CooldownBody {
    return this.cooldown.view(this.nextRound);
  }

  /** The operator starts the cooldown from the next round to open (POST .../cooldown). */
  startCooldown(): Promise<CooldownOutcome> {
    return this.cooldown.start(this.nextRound);
  }

  join(link: PeerLink): void {
    if (this.excluded.has(link.id)) {
      link.send({ type: 'wait', reason: EXCLUDED, retryAt: null });
      return;
    }
    this.peers.set(link.id, { link, speed: null, ready: false, catchingUpSince: null, missedCatchUp: false });
    const c = this.current;
    if (c?.members.has(link.id)) {
      c.rejoined.add(link.id);
      this.progress(c);
    }
    // A member that reloaded or reconnected while the relay waits for its state is asked again.
    for (const { round, deadline } of this.verification.awaiting(link.id))
      link.send({ type: 'check', round, deadline });
  }

  capabilities(id: string, speed: PeerSpeed): void {
    const peer = this.peers.get(id);
    if (peer) peer.speed = speed;
  }

  /** The peer holds `modelHash` (of round `round`) and asks for work. */
  ready(id: string, round: number, modelHash: string | null): void {
    const peer = this.peers.get(id);
    if (!peer) return;
    if (this.excluded.has(id)) {
      peer.link.send({ type: 'wait', reason: EXCLUDED, retryAt: null });
      return;
    }
    if (round !== this.committed.round || modelHash !== this.committed.modelHash) {
      peer.ready = false;
      this.catchUp(peer);
      this.resync(peer, this.committed.round, this.committed.modelHash);
      return;
    }
    peer.ready = true;
    peer.catchingUpSince = null;
    peer.missedCatchUp = false;
    if (this.current) {
      if (!this.current.members.has(id) || this.current.rejoined.has(id))
        peer.link.send({ type: 'wait', reason: `round ${this.current.round} is in progress`, retryAt: null });
      return;
    }
    this.scheduleOpen();
  }

  /** A member's frame upload (HTTP), with its signed claim. */
  async upload(id: string, round: number, bytes: Uint8Array, claim: string): Promise<UploadOutcome> {
    const c = this.current;
    if (c?.phase !== 'training' || round !== c.round || !c.members.has(id)) {
      const decided =
        (c?.round === round && c.members.has(id)) ||
        (this.lastDecided?.round === round && this.lastDecided.members.has(id));
      this.options.events?.rejected?.(decided ? 'late' : 'not-member');
      // A member whose frame comes after its round was decided is slow, not an intruder: it is
      // told so apart, and its volunteer says why its work was not counted.
      if (decided)
        return {
          kind: 'refused',
          status: 409,
          code: 'ERR_FRAME_LATE',
          message: `round ${round} was decided before this frame arrived; it is not counted`,
        };
      return {
        kind: 'refused',
        status: 403,
        code: 'ERR_NOT_A_MEMBER',
        message: `not a member of an open round ${round}`,
      };
    }
    const outcome = await c.frames.upload(id, bytes, claim, () => this.options.clock.now());
    if (outcome.kind === 'equivocation') this.equivocated(c, outcome.proof);
    else if (outcome.kind === 'stored') this.progress(c);
    else if (outcome.kind === 'refused') this.options.events?.rejected?.('invalid');
    return outcome;
  }

  /** A checked member's starting state for `round` (HTTP upload): the relay redoes its round. */
  revealState(id: string, round: number, bytes: Uint8Array): Promise<RevealOutcome> {
    return this.verification.reveal(id, round, bytes);
  }

  /** Resolves once the checks started so far are judged. */
  checksJudged(): Promise<void> {
    return this.verification.idle();
  }

  manifest(id: string, input: ManifestInput): void {
    this.lateButDelivered(id, input.round);
    const c = this.current;
    if (c?.phase !== 'training' || input.round !== c.round || !c.members.has(id) || c.manifests.has(id))
      return;
    c.manifests.set(id, {
      frameHash: input.frameHash,
      stateHash: input.stateHash,
      holds: input.holds.filter((h) => c.members.has(h.peer) && h.peer !== id),
      trainLoss: input.trainLoss,
    });
    this.progress(c);
  }

  /**
   * A member of the round decided last sends its (signed) manifest after the decision: it was
   * slow, not silent, so it is not kept benched for it (it only missed the round, and its
   * credit). One that is late every round costs each round the grace period, no more.
   */
  private lateButDelivered(id: string, round: number): void {
    if (this.lastDecided?.round === round && this.lastDecided.members.has(id)) this.benching.contributed(id);
  }

  /** A consistency report: the relay committed what it computed; a differing peer resyncs. */
  modelHash(id: string, round: number, hash: string): void {
    if (round !== this.committed.round || hash === this.committed.modelHash) return;
    this.hashDisagreements++;
    this.options.log.warn(
      { round, peer: id, hash, committed: this.committed.modelHash },
      'peer computed another state',
    );
  }

  /** Pipeline steps have no place in a rounds run; the session refuses them first. */
  stageNorm(): void {}
  stageReport(): void {}

  /** The peer disconnected or said goodbye: never wait for it. */
  leave(id: string): void {
    this.peers.delete(id);
    const c = this.current;
    if (c?.members.has(id)) this.progress(c);
  }

  close(): void {
    this.closed = true;
    this.verification.close();
    this.options.onClose?.();
    this.options.clock.clearTimeout(this.gatherTimer);
    if (this.current) {
      this.options.clock.clearTimeout(this.current.timer);
      this.options.clock.clearTimeout(this.current.graceTimer);
    }
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

  /** Members whose frame and manifest are both in, naming the same frame. */
  private complete(c: OpenRound): string[] {
    return [...c.members.keys()].filter((id) => {
      const frame = c.frames.get(id);
      return (
        frame !== undefined && c.manifests.get(id)?.frameHash === frame.frameHash && !c.equivocators.has(id)
      );
    });
  }

  /**
   * Decide now when every member still connected is complete; start the grace period once a
   * quorum of the members is: a member that is silent (or slow on purpose) costs the round at
   * most graceMs beyond the others.
   */
  private progress(c: OpenRound): void {
    if (this.current !== c || c.phase !== 'training') return;
    const complete = this.complete(c);
    // A set: this runs on every upload and manifest, so a scan per member would be O(n²) a call.
    const completed = new Set(complete);
    const waitingFor = [...c.members.keys()].filter(
      (id) => this.peers.has(id) && !c.equivocators.has(id) && !c.rejoined.has(id) && !completed.has(id),
    );
    if (waitingFor.length === 0) {
      this.startDecision(c);
      return;
    }
    const { quorum, graceMs } = this.options.config.schedule;
    // At least one member, and a quorum of 2 in 2 would let either stall the other to the deadline.
    const needed = Math.max(1, Math.floor(quorum * c.members.size));
    if (c.graceTimer === null && complete.length >= needed) {
      const { clock } = this.options;
      const wait = Math.max(0, Math.min(graceMs, c.deadline - clock.now()));
      c.graceTimer = clock.setTimeout(() => this.startDecision(c), wait);
    }
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
    const round = this.committed.round + 1;
    const ready = [...this.peers.values()].filter((p) => p.ready && !this.excluded.has(p.link.id));
    let benched = ready.filter((p) => this.benching.benched(p.link.id, round));
    const candidates = ready.filter((p) => !this.benching.benched(p.link.id, round));
    // Benching is a preference, not a lock: rounds are counted by commits, so a bench that kept
    // the run below minPeers would never run out. Then the benched are seated after all.
    const short = config.schedule.minPeers - candidates.length;
    if (short > 0 && benched.length > 0) {
      candidates.push(...benched.slice(0, short));
      benched = benched.slice(short);
    }
    for (const p of benched)
      p.link.send({
        type: 'wait',
        reason: `benched until round ${this.benching.until(p.link.id)}: missed an earlier round's deadline`,
        retryAt: null,
      });
    if (this.current || candidates.length < config.schedule.minPeers) return;
    const { batchSize: B, seqLen: T } = config.inner;
    const tokensPerStep = B * T;
    // Only what the relay measured sizes a share: a claim of 1e6 tokens/s earns nothing here.
    // Seats are drawn at random among the eligible, not given to the fastest: speed is measured
    // by arrival, which a crowd of identities uploading at once could fake. An identity on
    // probation gets a median share until checks have shown its speed is its work's.
    // No more identities on probation than the relay can check: every contribution of one is
    // checked, and one it has no room to check would earn unchecked credit (while a crowd of
    // new keys holding the backlog would leave established members unchecked too).
    let probationSeats = this.verification.enabled
      ? this.verification.probationRoom()
      : Number.POSITIVE_INFINITY;
    const seatable = shuffled(candidates, cryptoRandom).filter((p) => {
      if (!this.verification.enabled || !this.verification.onProbation(p.link.id)) return true;
      // Its rounds are all checked: one that leaves its checks unanswered holds no more places.
      if (this.verification.openChecks(p.link.id) >= MAX_OPEN_CHECKS_ON_PROBATION) {
        p.link.send({
          type: 'wait',
          reason: 'the checks of your last rounds are not answered yet',
          retryAt: null,
        });
        return false;
      }
      if (probationSeats > 0) {
        probationSeats--;
        return true;
      }
      p.link.send({
        type: 'wait',
        reason: 'no room to check new identities this round',
        retryAt: null,
      });
      return false;
    });
    const sizing = sizeRound(
      seatable.map((p) => ({
        peer: p.link.id,
        tokensPerSec: this.verification.onProbation(p.link.id) ? 0 : (this.measured.get(p.link.id) ?? 0),
        uplinkBytesPerSec: 0,
      })),
      {
        ...config.schedule,
        innerSteps: config.round.innerSteps,
        tokensPerStep,
        minMembers: config.schedule.minPeers,
      },
    );
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
    // Each opening of a round has a seed of its own, fresh randomness mixed into the run's: after
    // an abort (or a relay restart) the round is opened again, and a frame claim from an earlier
    // opening must never pair with one from this one as a "proof" of equivocation.
    const nonce = crypto.getRandomValues(new Uint32Array(1))[0] as number;
    const seed = deriveSeed(deriveSeed(config.seed, round), nonce);
    const expectedMs = this.expectedMillis(sizing.innerSeconds, candidates);
    const deadline = clock.now() + this.roundMillis(expectedMs);
    this.groups = regroup(this.groups, [...members.keys()], config.schedule.maxGroupSize, cryptoRandom);
    const groupOf = new Map<string, readonly string[]>();
    for (const group of this.groups) for (const id of group) groupOf.set(id, group);
    const c: OpenRound = {
      round,
      seed,
      learningRate: this.cooldown.rateOf(round),
      members,
      groupOf,
      openedAt: clock.now(),
      deadline,
      phase: 'training',
      frames: new RoundFrames(
        this.options.runId,
        { round, seed, totalFloats: this.options.layout.totalFloats, compression: config.round.compression },
        this.options.maxFrameBytes,
      ),
      manifests: new Map(),
      equivocators: new Set(),
      rejoined: new Set(),
      timer: null,
      graceTimer: null,
    };
    c.timer = clock.setTimeout(() => this.startDecision(c), deadline - clock.now());
    this.current = c;
    const groupEntries = (ids: readonly string[]) =>
      ids.map((peer) => ({
        peer,
        name: this.peers.get(peer)?.link.name ?? '',
        innerSteps: (members.get(peer) as Member).innerSteps,
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
        seed,
        group: groupEntries(groupOf.get(peer) as readonly string[]),
        shard: m.shard,
        innerSteps: m.innerSteps,
        learningRate: c.learningRate,
        deadline,
      });
    }
    for (const id of sizing.waiting)
      this.peers.get(id)?.link.send({ type: 'wait', reason: 'too slow for this round', retryAt: deadline });
    log.info(
      { round, members: members.size, groups: this.groups.length, benched: benched.length, deadline },
      'round opened',
    );
    this.options.events?.opened?.({
      round,
      seated: members.size,
      ready: ready.length,
      expectedSeconds: expectedMs / 1000,
      deadlineSeconds: (deadline - c.openedAt) / 1000,
    });
  }

  /**
   * Expected inner time plus a volunteer's traffic over the slowest uplink: its frame up, and
   * its share of passing on the aggregate (about two frames at most).
   */
  private expectedMillis(innerSeconds: number, candidates: readonly PeerState[]): number {
    const uplinks = candidates.map((p) =>
      Math.min(UPLINK_BOUNDS.max, Math.max(UPLINK_BOUNDS.min, p.speed?.uplinkBytesPerSec ?? 1e6)),
    );
    const slowestUplink = uplinks.length > 0 ? Math.min(...uplinks) : 1e6;
    const transferSeconds = (this.options.frameBytes * VOLUNTEER_FRAMES_PER_ROUND) / slowestUplink;
    return 1000 * (innerSeconds + transferSeconds);
  }

  /** The deadline: the expected time with slack, clamped. */
  private roundMillis(expectedMs: number): number {
    const { schedule } = this.options.config;
    const ms = schedule.deadlineSlack * expectedMs;
    return Math.round(Math.min(schedule.maxRoundMs, Math.max(schedule.minRoundMs, ms)));
  }

  /**
   * Tells a peer to fetch the committed state: with its hash tree and a few members that hold
   * it, so the peer takes it from them and the relay serves only what they do not.
   */
  private resync(peer: PeerState, round: number, modelHash: string): void {
    const served = this.served?.hash === modelHash ? this.served : null;
    const holders = sampleHolders(this.holders, (id) => id !== peer.link.id && this.peers.has(id));
    peer.link.send({
      type: 'resync',
      round,
      modelHash,
      ...(served && {
        state: {
          root: served.tree.root,
          bytes: served.tree.totalBytes,
          pieceBytes: served.tree.pieceBytes,
          holders,
        },
      }),
    });
  }

  /** Piece `index` of the committed state whose tree has `root`, with its proof; null if not held. */
  statePiece(root: string, index: number): Uint8Array | null {
    const served = this.served;
    if (
      served?.tree.root !== root ||
      !Number.isSafeInteger(index) ||
      index < 0 ||
      index >= served.tree.pieceCount
    )
      return null;
    return encodeStatePiece({
      root,
      index,
      proof: proofFor(served.tree, index),
      bytes: pieceAt(served.bytes, index, served.tree.pieceBytes),
    });
  }

  /** A failed or unanswered check: the key is never seated again (the ledger records why). */
  private banned(ban: Ban): void {
    this.options.events?.banned?.();
    this.excluded.add(ban.peerKey);
    this.peers
      .get(ban.peerKey)
      ?.link.send({ type: 'wait', reason: `banned: ${ban.reason}`.slice(0, 200), retryAt: null });
  }

  private equivocated(c: OpenRound, proof: EquivocationProof): void {
    if (c.equivocators.has(proof.author)) return;
    this.options.events?.rejected?.('equivocation');
    c.equivocators.add(proof.author);
    this.excluded.add(proof.author);
    this.options.log.warn(
      { round: c.round, author: proof.author, reportedBy: proof.reportedBy, claims: proof.claims },
      'equivocation proven: the author is excluded',
    );
    this.options.onEquivocation?.(proof);
    this.peers.get(proof.author)?.link.send({
      type: 'round-aborted',
      round: c.round,
      reason: 'two different frames signed for one round: this key is excluded',
    });
  }

  /**
   * Resolves once the decision under way (signature checks, the state, the ledger) is done:
   * what shutdown and tests wait for, rather than guessing how many turns it takes.
   */
  settled(): Promise<void> {
    return this.deciding;
  }

  private startDecision(c: OpenRound): void {
    const decision = this.decide(c).catch((error: unknown) => {
      this.options.log.error({ round: c.round, err: error }, 'deciding the round failed; aborting it');
      if (this.current === c) this.abort(c, 'error', 'the relay could not decide the round');
    });
    this.deciding = this.deciding.then(() => decision);
  }

  private async decide(c: OpenRound): Promise<void> {
    if (this.current !== c || c.phase !== 'training') return;
    const { clock, log, config, layout } = this.options;
    c.phase = 'deciding';
    this.lastDecided = { round: c.round, members: new Set(c.members.keys()) };
    clock.clearTimeout(c.timer);
    clock.clearTimeout(c.graceTimer);
    // Frames peers received over the mesh that differ from the relay's copy: proof or nothing.
    for (const [reporter, manifest] of c.manifests)
      for (const held of manifest.holds) {
        if (c.equivocators.has(held.peer)) continue;
        const proof = await c.frames.checkReport(reporter, held.peer, held.frameHash, held.claim);
        if (proof) this.equivocated(c, proof);
      }
    const complete = this.complete(c).sort();
    const completed = new Set(complete);
    const { events } = this.options;
    // Held frames no manifest of their author confirmed: never counted.
    for (const id of c.members.keys())
      if (c.frames.get(id) && !completed.has(id) && !c.equivocators.has(id))
        events?.rejected?.('unconfirmed');
    if (complete.length === 0) {
      if (c.manifests.size === 0) this.abort(c, 'no-manifest', 'no manifest arrived before the deadline');
      else this.abort(c, 'no-valid-frame', 'no valid frame arrived');
      return;
    }
    // A contribution on probation weighs less in the aggregate: a crowd of new identities moves
    // the model a fraction of what their tokens say until checks vouch for them.
    const { probationWeight } = config.verification;
    const delivered: CountedFrame[] = complete.map((peer) => {
      const { tokens } = c.members.get(peer) as Member;
      const onProbation = this.verification.enabled && this.verification.onProbation(peer);
      return {
        peer,
        tokens: onProbation ? Math.max(1, Math.round(tokens * probationWeight)) : tokens,
        frame: (c.frames.get(peer) as { bytes: Uint8Array }).bytes,
      };
    });
    const expected = {
      round: c.round,
      seed: c.seed,
      totalFloats: layout.totalFloats,
      compression: config.round.compression,
    };
    const { validate } = this.options;
    const screening =
      validate && this.committedLoss !== null
        ? screenContributions(
            this.state,
            delivered,
            expected,
            layout,
            config.round,
            validate,
            this.committedLoss,
          )
        : null;
    const frames = screening ? [...screening.kept] : delivered;
    const counted = frames.map((f) => f.peer);
    for (let left = complete.length - counted.length; left > 0; left--) events?.rejected?.('not-useful');
    if (screening && counted.length < complete.length)
      log.info(
        { round: c.round, improvement: Object.fromEntries(screening.improvement), counted: counted.length },
        'contributions that did not lower the held-out loss are left out',
      );
    const update = roundUpdate(
      this.state.weights,
      this.state.momentum,
      frames,
      expected,
      layout,
      config.round,
      this.aggregateResidual,
    );
    if (!update.ok) {
      this.abort(c, 'aggregate', update.reason);
      return;
    }
    const next = { weights: update.weights, momentum: update.momentum };
    const hash = await modelHash(next.weights, next.momentum);
    const valLoss = this.options.validate?.(next.weights) ?? null;
    const verdict = this.guard && valLoss !== null ? this.guard.judge(valLoss) : { accept: true as const };
    for (const id of c.members.keys())
      if (!completed.has(id) && !c.equivocators.has(id)) {
        const rounds = this.benching.missed(id, c.round);
        log.info({ round: c.round, peer: id, rounds }, 'member missed the decision: benched');
      }
    if (!verdict.accept) {
      this.examine(c, update.report);
      await this.rollBack(c, verdict.reason, verdict.rollbackTo);
      return;
    }
    for (const id of counted) {
      this.benching.contributed(id);
      const arrived = c.frames.get(id)?.arrivedAt ?? clock.now();
      const seconds = Math.max(1e-3, (arrived - c.openedAt) / 1000);
      this.measured.set(id, (c.members.get(id) as Member).tokens / seconds);
    }
    const losses = counted
      .map((id) => c.manifests.get(id)?.trainLoss)
      .filter((l): l is number => typeof l === 'number');
    const unrecorded = this.verification.unrecorded();
    const busyMsOf = (peer: string) =>
      Math.max(0, Math.round((c.frames.get(peer)?.arrivedAt ?? c.openedAt) - c.openedAt));
    const record: CommitRecord = {
      round: c.round,
      modelHash: hash,
      // The run's public loss curve: the relay's own measure when it scores states; the
      // members' reported training losses (claims) only when it does not.
      trainLoss: valLoss ?? (losses.length > 0 ? losses.reduce((a, b) => a + b, 0) / losses.length : null),
      shards: counted.map((peer) => (c.members.get(peer) as Member).shard),
      credits: counted.map((peer) => {
        const { tokens } = c.members.get(peer) as Member;
        return {
          peerKey: peer,
          tokens,
          flops: trainingFlops(this.options.layout.paramCount, tokens),
          busyMs: busyMsOf(peer),
          status: 'provisional' as const,
        };
      }),
      members: counted.map((peer) => ({
        peerKey: peer,
        name: this.peers.get(peer)?.link.name ?? '',
        busyMs: busyMsOf(peer),
      })),
      ...unrecorded,
    };
    let outcome: CommitOutcome;
    try {
      // The state file first: a commit the ledger holds must always have its state on disk.
      await this.options.states.save(c.round, hash, next);
      outcome = await this.options.commit(record);
    } catch (error) {
      log.error({ round: c.round, err: error }, 'round commit failed; aborting the round');
      this.abort(c, 'ledger', 'the ledger could not record the round');
      return;
    }
    this.verification.recorded(unrecorded);
    const countedSet = new Set(counted);
    for (const [peer, m] of c.members) if (!countedSet.has(peer)) this.options.pool.release(m.shard);
    this.askForChecks(c, counted, this.state.weights);
    this.committed = { round: c.round, modelHash: hash };
    this.state = next;
    this.served = await servedState(config, next, hash);
    this.holders = [...c.members.keys()].filter((id) => c.manifests.has(id) && !c.equivocators.has(id));
    this.guard?.committed({ round: c.round, modelHash: hash, valLoss: valLoss as number });
    this.committedLoss = valLoss;
    this.aggregateResidual = update.residual;
    this.lastFrames = {
      round: c.round,
      frames: new Map(frames.map((f) => [f.peer, f.frame])),
      aggregate: update.aggregate,
    };
    this.current = null;
    log.info({ round: c.round, modelHash: hash, counted: counted.length, valLoss }, 'round committed');
    const aggregate = await aggregateSummary(update.aggregate, config.schedule.maxGroupSize);
    const countedEntries = new Map(
      frames.map(({ peer, tokens }) => [
        peer,
        { peer, tokens, frameHash: c.frames.get(peer)?.frameHash as string },
      ]),
    );
    const decisionFor = (id: string): RelayMessage => ({
      type: 'decision',
      round: c.round,
      counted: (c.groupOf.get(id) ?? [])
        .map((member) => countedEntries.get(member))
        .filter((entry) => entry !== undefined),
      countedTotal: frames.length,
      aggregate,
      deadline: clock.now() + config.schedule.hashTimeoutMs,
    });
    const commit: RelayMessage = { type: 'commit', round: c.round, modelHash: hash, head: outcome.head };
    for (const id of c.members.keys()) {
      const peer = this.peers.get(id);
      if (!peer) continue;
      if (c.manifests.has(id) && !c.equivocators.has(id)) {
        peer.link.send(decisionFor(id));
        peer.link.send(commit);
      } else {
        this.catchUp(peer);
        this.resync(peer, c.round, hash);
      }
      const receipt = outcome.receipts.get(id);
      if (receipt !== undefined) peer.link.send({ type: 'receipt', receipt });
    }
    this.resyncWaiting(c);
    events?.committed?.(c.round, (clock.now() - c.openedAt) / 1000, counted.length);
    this.options.onCommitted?.(record);
    this.scheduleOpen();
  }

  /**
   * After the commit, so the choice cannot be read from the round's own messages: the members
   * whose contributions are checked are asked for their starting state (verification.ts).
   */
  private askForChecks(c: OpenRound, counted: readonly string[], weights: Float32Array): void {
    if (!this.verification.enabled) return;
    const { config, clock } = this.options;
    // A cheap screen: two members' frames byte for byte alike are never both honest work (each
    // trains its own range and rounds with its own noise); both are checked, the copier fails.
    const holders = new Map<string, string[]>();
    for (const peer of counted) {
      const hash = c.frames.get(peer)?.frameHash;
      if (hash) holders.set(hash, [...(holders.get(hash) ?? []), peer]);
    }
    const copies = new Set([...holders.values()].filter((peers) => peers.length > 1).flat());
    const chosen = this.verification.choose(counted, copies);
    const deadline = clock.now() + config.verification.revealMs;
    this.verification.expect(
      chosen.map((peer) => {
        const member = c.members.get(peer) as Member;
        return {
          round: c.round,
          peer,
          stateHash: c.manifests.get(peer)?.stateHash as string,
          shard: member.shard,
          work: {
            config,
            expected: {
              round: c.round,
              seed: c.seed,
              totalFloats: this.options.layout.totalFloats,
              compression: config.round.compression,
            },
            weights,
            innerSteps: member.innerSteps,
            learningRate: c.learningRate,
            noiseStream: noiseStreamOf(config.seed, peer),
            frame: c.frames.get(peer)?.bytes as Uint8Array,
          },
        };
      }),
    );
    for (const peer of chosen) this.peers.get(peer)?.link.send({ type: 'check', round: c.round, deadline });
  }

  /**
   * Peers that said ready while the round ran hold the state it started from, which is no
   * longer the committed one: assigned as they are, they would train from stale weights.
   */
  private resyncWaiting(c: OpenRound): void {
    for (const [id, peer] of this.peers)
      if (peer.ready && !c.members.has(id)) {
        peer.ready = false;
        this.catchUp(peer);
        this.resync(peer, this.committed.round, this.committed.modelHash);
      }
  }

  /** A refused state's contributors: those the aggregation had to bound are benched too. */
  private examine(c: OpenRound, report: AggregationReport): void {
    const suspects = [...c.members.keys()].filter(
      (id) => (report.normScale.get(id) ?? 1) < 1 || (report.clipScale.get(id) ?? 1) < 1,
    );
    for (const id of suspects) this.benching.missed(id, c.round);
    this.options.log.warn(
      {
        round: c.round,
        suspects,
        normScale: Object.fromEntries(report.normScale),
        clipScale: Object.fromEntries(report.clipScale),
      },
      'refused state: contributions the aggregate had to bound',
    );
  }

  /**
   * The guard refused the new state. When the best kept state is the committed one, the round
   * just aborts. Otherwise the run goes back to it: round r commits that older state, with no
   * credits, so the ledger shows the rollback and every peer resyncs to it.
   */
  private async rollBack(c: OpenRound, reason: string, to: KeptState): Promise<void> {
    const { log } = this.options;
    this.rolledBack++;
    // The carried error may be part of what went wrong: it is dropped with the refused state.
    this.aggregateResidual = null;
    this.options.onRolledBack?.(c.round, to.round, reason);
    if (to.modelHash === this.committed.modelHash) {
      this.abort(c, 'state-refused', `state refused: ${reason}`);
      return;
    }
    const state = await this.options.states.load(to.modelHash);
    if (!state) {
      log.error({ round: c.round, to }, 'the state to roll back to is gone; the round aborts');
      this.abort(c, 'state-refused', `state refused: ${reason}`);
      return;
    }
    try {
      await this.options.states.save(c.round, to.modelHash, state);
      const unrecorded = this.verification.unrecorded();
      await this.options.commit({
        round: c.round,
        modelHash: to.modelHash,
        trainLoss: null,
        shards: [],
        credits: [],
        members: [],
        ...unrecorded,
      });
      this.verification.recorded(unrecorded);
    } catch (error) {
      log.error({ round: c.round, err: error }, 'rollback commit failed; aborting the round');
      this.abort(c, 'ledger', `state refused: ${reason}`);
      return;
    }
    for (const m of c.members.values()) this.options.pool.release(m.shard);
    this.committed = { round: c.round, modelHash: to.modelHash };
    this.state = state;
    this.served = await servedState(this.options.config, state, to.modelHash);
    this.holders = [];
    this.guard?.committed({ ...to, round: c.round });
    this.committedLoss = to.valLoss;
    this.current = null;
    log.warn({ round: c.round, toRound: to.round, modelHash: to.modelHash, reason }, 'rolled back');
    for (const id of c.members.keys()) {
      const peer = this.peers.get(id);
      if (!peer) continue;
      this.catchUp(peer);
      this.resync(peer, c.round, to.modelHash);
    }
    this.resyncWaiting(c);
    this.scheduleOpen();
  }

  private abort(c: OpenRound, cause: AbortCause, reason: string): void {
    this.options.events?.aborted?.(c.round, cause);
    this.options.clock.clearTimeout(c.timer);
    this.options.clock.clearTimeout(c.graceTimer);
    for (const m of c.members.values()) this.options.pool.release(m.shard);
    this.current = null;
    this.options.log.warn({ round: c.round, reason }, 'round aborted');
    for (const id of c.members.keys())
      this.peers.get(id)?.link.send({ type: 'round-aborted', round: c.round, reason });
    this.scheduleOpen();
  }
}

/** A uniformly random order (Fisher–Yates with the platform's CSPRNG). */

/** The decision's description of an aggregate frame cut into `pieces` pieces (aggregate-piece.ts). */
async function aggregateSummary(bytes: Uint8Array, pieces: number) {
  const count = Math.max(1, Math.min(pieces, bytes.length));
  const hashes: string[] = [];
  for (let p = 0; p < count; p++) {
    const { start, end } = pieceRange(bytes.length, count, p);
    hashes.push(await sha256Hex(bytes.subarray(start, end)));
  }
  return { hash: await sha256Hex(bytes), bytes: bytes.length, pieces: hashes };
}

interface ServedState {
  readonly hash: string;
  readonly bytes: Uint8Array;
  readonly tree: StateTree;
}

/** The state file every volunteer writes for `state` (no metadata), and its hash tree. */
async function servedState(config: RunConfig, state: RoundState, hash: string): Promise<ServedState> {
  const bytes = encodeRoundState(config.model, state);
  return { hash, bytes, tree: await stateTree(bytes) };
}

/**
 * Up to MAX_STATE_HOLDERS distinct holders that pass `usable`, picked at random: by sampling, not
 * by shuffling every holder, since after a takeover every volunteer of thousands is resynced.
 */
function sampleHolders(holders: readonly string[], usable: (id: string) => boolean): string[] {
  const chosen = new Set<string>();
  for (let tries = 0; chosen.size < MAX_STATE_HOLDERS && tries < 4 * MAX_STATE_HOLDERS; tries++) {
    const id = holders[Math.floor(cryptoRandom() * holders.length)];
    if (id !== undefined && usable(id)) chosen.add(id);
  }
  return [...chosen];
}
