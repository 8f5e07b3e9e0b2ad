// The relay's side of a pipeline-parallel run (run config `pipeline`): it seats volunteers on
// stages, and drives one optimizer step at a time.
//
//   seating ──(enough ready volunteers, after gatherMs)──▶ step k open ──(every seated replica
//   sent its stage's gradient norm, each stage's replicas agree)──▶ every stage's norm to every
//   peer ──(every seated replica reported, each stage's replicas agree)──▶ commit (ledger,
//   credits) ──▶ step k+1 open
//
// The norms are the one exchange a step needs across all stages: every stage clips its gradient
// by the whole model's norm (protocol/stage-grad-norm.ts), as the unsplit model does, so each
// needs every other's sum of squares before it can step. They come through the relay because
// every peer already holds a connection to it, where a mesh of every stage's replicas would
// outgrow the links a tab keeps (web/src/peer/mesh-limits.ts). The relay checks that a stage's
// replicas agree and that a norm is within a factor of the stage's recent ones (norm-bound.ts);
// a stage with one replica could still send a norm smaller than its gradient's and escape the
// clip, as it could send any gradient, since pipeline work is not verified yet.
//
// A step that fails (its deadline passes, a stage's replicas disagree, a replica sends a norm or
// a loss no honest one could, or leaves mid-step) opens again narrowed: one drawn replica on each
// suspect stage. A failure pinned on one replica (what it sent, its leaving) benches it for a
// cool-down once the step commits (replica-record.ts); a stall that cannot be pinned benches
// nobody and keeps its stages narrowed for a window that doubles while stalls repeat
// (stall-window.ts). A volunteer that drops and comes back holding
// its stage's weights as of the last commit (its `ready` names that step and its stage's hash)
// is seated on its stage again without a transfer, so a blip does not cost a stage whose only
// replica it was.
//
// A step hands each microbatch a route, one replica per stage (round robin over a stage's live
// replicas, so each does its share). When a replica leaves or the step passes its deadline, the
// step is aborted (every peer puts back its weights from before the step) and opened again at
// once over the replicas still there: the lost volunteer's microbatches go to the other replicas
// of its stage, and the run does not wait for it. A volunteer that arrives after the seating is
// seated at the next step on the stage with the fewest replicas, and fetches that stage's
// weights and optimizer state from one of them before the step (`stateFrom` / `stateTo`). A
// stage whose every replica is gone has lost its weights: the run waits (the relay keeps no
// copy of a pipeline's weights).
//
// Credits are the relay's own arithmetic (stage-credits.ts): each volunteer earns its stage's
// training FLOPs for the tokens of the microbatches the committed step routed through it; the
// `stage-report` only proves the step finished and which weights it produced.

import { type PipelineConfig, pipelineLearningRate, type RunConfig } from '../../protocol/run-config.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { wholeModelNorm } from '../../protocol/stage-grad-norm.ts';
import { type LayerRange, splitLayers } from '../../protocol/stage-layout.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { CommitRecord, CommitRound, CreditLine, PeerLink, PeerSpeed } from '../rounds/coordinator.ts';
import type { ShardPool, TokenRange } from '../rounds/shard-pool.ts';
import type { SwarmCoordinator } from '../swarm/swarm-coordinator.ts';
import { NormBound } from './norm-bound.ts';
import { ReplicaRecord } from './replica-record.ts';
import { stageCredits } from './stage-credits.ts';
import { StallWindow } from './stall-window.ts';

export interface PipelineCoordinatorOptions {
  readonly config: RunConfig;
  /** The last committed step (-1 before the first) and its model hash. */
  readonly committed: { readonly round: number; readonly modelHash: string };
  readonly pool: ShardPool;
  readonly commit: CommitRound;
  readonly clock: Clock;
  readonly log: Logger;
  readonly onCommitted?: (record: Parameters<CommitRound>[0]) => void;
  /** The relay's draw between equally trusted replicas (replica-record.ts); Math.random by default. */
  readonly random?: () => number;
}

/**
 * The largest mean loss per microbatch a last stage may report: four times a uniform guess's.
 * A model that far off has diverged beyond use; a number past it is a lie about the ledger's loss.
 */
export function maxMeanLoss(vocabSize: number): number {
  return 4 * Math.log(vocabSize);
}

export interface StageReportInput {
  readonly step: number;
  readonly stage: number;
  readonly paramsHash: string;
  readonly lossSum: number | null;
}

export interface StageNormInput {
  readonly step: number;
  readonly attempt: number;
  readonly stage: number;
  readonly sumOfSquares: number;
}

interface PeerState {
  link: PeerLink;
  ready: boolean;
}

interface OpenStep {
  readonly step: number;
  readonly attempt: number;
  /** Each stage's live replicas, sorted by key. */
  readonly stages: readonly (readonly string[])[];
  readonly routes: readonly (readonly number[])[];
  readonly shard: TokenRange;
  readonly openedAt: number;
  /** Each replica's sum of squares for the clip, until every stage's is shared. */
  readonly norms: Map<string, number>;
  /** Every stage's agreed sum of squares, once shared; reports count only then. */
  sums: number[] | null;
  readonly reports: Map<string, StageReportInput>;
  timer: unknown;
  closing: boolean;
}

export class PipelineCoordinator implements SwarmCoordinator {
  readonly kind = 'pipeline';
  readonly pipeline: PipelineConfig;
  private readonly split: LayerRange[];
  private readonly peers = new Map<string, PeerState>();
  /** Seated volunteers per stage; a volunteer keeps its stage (and its weights) for the run. */
  private seating: string[][] | null = null;
  /** Seated newcomers that do not hold their stage's state yet: they fetch it from a replica. */
  private readonly needsState = new Set<string>();
  private current: OpenStep | null = null;
  private gatherTimer: unknown = null;
  private committed: { round: number; modelHash: string };
  private closed = false;
  /** Steps aborted since the relay started, for the API and the tests. */
  abortedSteps = 0;
  /** Aborts because a stage's replicas sent different norms or weights. */
  disagreements = 0;
  private readonly record: ReplicaRecord;
  private readonly normBound: NormBound;
  private readonly stalls: StallWindow;
  /** Per stage, who has committed a step on it: the stage's norm history is theirs alone. */
  private readonly committedOn: Set<string>[];
  /** Stages the open step's next attempt runs on one replica (cleared when a step commits). */
  private readonly narrowed = new Set<number>();
  /** Each stage's weights hash at the last commit, and the stage each of its replicas held. */
  private stageHashes: readonly string[] | null = null;
  private readonly heldAtCommit = new Map<string, number>();
  /** Openings of steps so far: each gets its own attempt id, which every frame of it carries. */
  private attempts = 0;

  constructor(private readonly options: PipelineCoordinatorOptions) {
    const pipeline = options.config.pipeline;
    if (!pipeline) throw new RangeError('a pipeline coordinator needs the run config’s pipeline section');
    this.pipeline = pipeline;
    this.split = splitLayers(options.config.model.nLayer, pipeline.stages);
    this.committed = { ...options.committed };
    this.record = new ReplicaRecord(options.random);
    this.normBound = new NormBound(pipeline.stages);
    this.stalls = new StallWindow(pipeline.stages);
    this.committedOn = Array.from({ length: pipeline.stages }, () => new Set());
  }

  get lastCommitted(): { readonly round: number; readonly modelHash: string } {
    return this.committed;
  }

  get roundInProgress(): { round: number; phase: string; members: number } | null {
    const c = this.current;
    return c ? { round: c.step, phase: 'step', members: c.stages.flat().length } : null;
  }

  get connectedPeers(): number {
    return this.peers.size;
  }

  /** Who holds each stage now, for the API and the tests. */
  get stages(): readonly (readonly string[])[] | null {
    return this.seating;
  }

  join(link: PeerLink): void {
    this.peers.set(link.id, { link, ready: false });
  }

  /** A claim the seating does not weigh (seat()). */
  capabilities(_id: string, _report: PeerSpeed): void {}

  /**
   * A pipeline peer says ready when its engine is up: (-1, null) holding nothing, or the step
   * whose committed weights of its stage it holds and their hash (back after a drop).
   */
  ready(id: string, round: number, modelHash: string | null): void {
    const peer = this.peers.get(id);
    if (!peer) return;
    peer.ready = true;
    this.reclaim(id, round, modelHash);
    if (!this.seating) {
      this.scheduleSeating();
      return;
    }
    if (this.current) {
      if (!this.current.stages.some((ids) => ids.includes(id)))
        peer.link.send({
          type: 'wait',
          reason: 'this volunteer joins the pipeline at the next step',
          retryAt: null,
        });
      return;
    }
    this.openStep();
  }

  /** Data-parallel messages have no place in a pipeline run; the session refuses them first. */
  manifest(): void {}
  modelHash(): void {}

  /**
   * Seats a volunteer back on the stage it held at the last commit, holding it, when it says it
   * holds that step's weights of it: the hash its stage's replicas committed. Anyone else, and a
   * claim of an older step, is a newcomer (seatNewcomers).
   */
  private reclaim(id: string, round: number, modelHash: string | null): void {
    const stage = this.heldAtCommit.get(id);
    if (!this.seating || stage === undefined || this.seating.some((ids) => ids.includes(id))) return;
    if (round !== this.committed.round || modelHash === null || this.stageHashes?.[stage] !== modelHash)
      return;
    this.seating[stage]?.push(id);
    this.options.log.info({ peer: id, stage, step: round }, 'a replica came back holding its stage');
  }

  /**
   * A seated replica's squared gradient norm for the open step. One from an aborted attempt is
   * stale and dropped; one from a peer that is not a replica of the stage it names is refused;
   * one past the stage's bound from its only replica fails the attempt on it (a replica with a
   * twin is judged against its twin first: shareNorms). Once every replica's is in, every peer
   * of the step gets every stage's.
   */
  stageNorm(id: string, input: StageNormInput): void {
    const c = this.current;
    if (!c || c.closing || input.step !== c.step || input.attempt !== c.attempt) return;
    if (!c.stages[input.stage]?.includes(id)) {
      this.options.log.warn(
        { peer: id, stage: input.stage, code: 'ERR_STAGE_NOT_ON_ROUTE' },
        'refused a gradient norm from a peer that is not a replica of that stage',
      );
      return;
    }
    if (c.norms.has(id)) return;
    const alone = c.stages[input.stage]?.length === 1;
    if (
      alone &&
      this.boundedBy(c, input.stage) &&
      !this.normBound.plausible(input.stage, input.sumOfSquares)
    ) {
      this.fail(c, input.stage, [id], `a replica of stage ${input.stage} sent an implausible gradient norm`);
      return;
    }
    c.norms.set(id, input.sumOfSquares);
    if (c.norms.size === c.stages.flat().length) this.shareNorms(c);
  }

  /**
   * Every replica sent its norm: each stage's replicas summed the same frames in the same order,
   * so honest ones agree to the bit, and a stage whose replicas do not aborts the step. So does
   * a stage whose replicas agree on a sum past its bound, or past a thousand times every other
   * stage's norm; who lies then cannot be told (a tiny sum on one stage makes another look
   * huge), so it is pinned on nobody, as a stall. Otherwise every peer of the step gets the
   * stages' sums in stage order, and adds them up alike.
   */
  private shareNorms(c: OpenStep): void {
    const agreed = agreedPerStage(c.stages, (id) => c.norms.get(id));
    if (!agreed.ok) {
      this.disagreed(c, agreed.stage, `the replicas of stage ${agreed.stage} sent different gradient norms`);
      return;
    }
    const sumsOfSquares = agreed.values as number[];
    const implausible = sumsOfSquares.findIndex(
      (x, s) => this.boundedBy(c, s) && !this.normBound.plausible(s, x),
    );
    if (implausible >= 0) {
      this.unpinned(c, implausible, `the replicas of stage ${implausible} sent an implausible gradient norm`);
      return;
    }
    const outlier = this.normBound.outlier(sumsOfSquares);
    if (outlier !== null) {
      this.unpinned(
        c,
        outlier,
        `the replicas of stage ${outlier} sent a gradient norm a thousand times every other stage’s`,
      );
      return;
    }
    c.sums = sumsOfSquares;
    for (const id of c.stages.flat())
      this.peers.get(id)?.link.send({ type: 'stage-norms', step: c.step, attempt: c.attempt, sumsOfSquares });
  }

  /**
   * A seated replica finished the step: its stage's weights hash, and (last stage) its losses.
   * Before the norms were shared no honest replica can have stepped, so none counts then.
   */
  stageReport(id: string, report: StageReportInput): void {
    const c = this.current;
    if (!c || c.closing || report.step !== c.step || c.sums === null) return;
    if (!c.stages[report.stage]?.includes(id) || c.reports.has(id)) return;
    if (!this.lossIsPlausible(c, id, report)) {
      this.fail(c, report.stage, [id], `a replica of stage ${report.stage} reported an impossible loss`);
      return;
    }
    c.reports.set(id, report);
    if (c.reports.size === c.stages.flat().length) void this.finish(c);
  }

  /**
   * The last stage's loss sum: a number in (0, its microbatches x maxMeanLoss]; other stages have
   * none to send. The ledger's training loss is made of it.
   */
  private lossIsPlausible(c: OpenStep, id: string, report: StageReportInput): boolean {
    const last = c.stages.length - 1;
    if (report.stage !== last) return report.lossSum === null;
    const replica = c.stages[last]?.indexOf(id) ?? -1;
    const mine = c.routes.filter((route) => route[last] === replica).length;
    const loss = report.lossSum;
    // Cross-entropy through a softmax is never 0: a sum of 0 is a claim of a perfect model.
    return loss !== null && loss > 0 && loss <= mine * maxMeanLoss(this.options.config.model.vocabSize);
  }

  /**
   * The peer disconnected or said goodbye: it loses its seat (back holding the last commit's
   * weights of its stage, it takes it again: reclaim()). Leaving a step in flight fails it, on
   * the leaver: the step is re-run without it, and it sits out once the step commits without it
   * (a leave-and-rejoin loop costs the leaver, not only the others, an attempt each time).
   */
  leave(id: string): void {
    this.peers.delete(id);
    this.needsState.delete(id);
    if (this.seating) this.seating = this.seating.map((ids) => ids.filter((x) => x !== id));
    const c = this.current;
    const stage = c?.stages.findIndex((ids) => ids.includes(id)) ?? -1;
    if (c && !c.closing && stage >= 0) this.fail(c, stage, [id], 'a stage replica left');
  }

  close(): void {
    this.closed = true;
    this.options.clock.clearTimeout(this.gatherTimer);
    if (this.current) this.options.clock.clearTimeout(this.current.timer);
  }

  private scheduleSeating(): void {
    const { minPeers, gatherMs } = this.options.config.schedule;
    const ready = [...this.peers.values()].filter((p) => p.ready).length;
    if (this.closed || this.gatherTimer !== null || ready < Math.max(minPeers, this.pipeline.stages)) return;
    this.gatherTimer = this.options.clock.setTimeout(() => {
      this.gatherTimer = null;
      this.seat();
    }, gatherMs);
  }

  /**
   * Seats the ready volunteers round robin in arrival order on the even split. Every volunteer
   * builds its stage from that split (kernels/pipeline/stage-engine.ts), and the relay has no
   * measure of a pipeline volunteer's speed or memory to weigh a seating by: what a volunteer
   * reports in `capabilities` is its own claim.
   */
  private seat(): void {
    const ready = [...this.peers.values()].filter((p) => p.ready);
    const S = this.pipeline.stages;
    if (this.seating || ready.length < S) return;
    this.seating = Array.from({ length: S }, (_, s) =>
      ready.filter((_, i) => i % S === s).map((p) => p.link.id),
    );
    this.options.log.info({ stages: this.seating.map((ids) => ids.length) }, 'pipeline seated round robin');
    this.openStep();
  }

  /** Of `ids`, those connected and ready, sorted by key (the order replicas sum in). */
  private live(ids: readonly string[]): string[] {
    return ids.filter((id) => this.peers.get(id)?.ready).sort();
  }

  /** Of `ids`, the live ones that hold their stage's state. */
  private holders(ids: readonly string[]): string[] {
    return this.live(ids).filter((id) => !this.needsState.has(id));
  }

  /**
   * Seats every ready volunteer that is not seated on the stage with the fewest live replicas,
   * among the stages someone can send the state of (newcomers hold none, so this cannot change).
   */
  private seatNewcomers(seating: string[][]): void {
    const seated = new Set(seating.flat());
    // Before the first commit every stage is θ_0, which a newcomer opens from the seed itself: a
    // stage whose only replica left then is not lost, and nobody needs a transfer.
    const fresh = this.stageHashes === null && this.committed.round === -1;
    const sourced = seating.map((ids) => fresh || this.holders(ids).length > 0);
    for (const peer of this.peers.values()) {
      const id = peer.link.id;
      if (!peer.ready || seated.has(id)) continue;
      const target = seating
        .map((ids, s) => ({ s, live: this.live(ids).length, ids }))
        .filter((x) => sourced[x.s])
        .sort((a, b) => a.live - b.live || a.s - b.s)[0];
      if (!target) return;
      target.ids.push(id);
      if (!fresh) this.needsState.add(id);
      seated.add(id);
      this.options.log.info({ peer: id, stage: target.s }, 'a new replica joins the pipeline');
    }
  }

  private openStep(): void {
    const { config, clock, log, pool } = this.options;
    if (this.closed || this.current || !this.seating) return;
    this.seatNewcomers(this.seating);
    const step = this.committed.round + 1;
    const seated = this.seating.map((ids) => this.live(ids).filter((id) => !this.record.benched(id, step)));
    const holders = seated.map((ids) => ids.filter((id) => !this.needsState.has(id)));
    const orphan = holders.findIndex((ids) => ids.length === 0);
    if (orphan >= 0) {
      log.warn({ stage: orphan }, 'no volunteer holds a pipeline stage’s weights any more: the run waits');
      return;
    }
    // A suspect stage runs on one replica that holds its weights; the others stand by.
    const live = seated.map((ids, s) =>
      this.narrows(s, step) ? [this.record.pick(holders[s] ?? []) as string] : ids,
    );
    // Each newcomer fetches its stage's state from the first replica that holds it.
    const sourceOf = new Map<string, string>();
    for (const [s, ids] of live.entries())
      for (const id of ids) if (this.needsState.has(id)) sourceOf.set(id, holders[s]?.[0] as string);
    const { microbatches: M, microbatchSize: B, stepMs } = this.pipeline;
    const tokens = M * B * config.inner.seqLen + 1;
    pool.rollUnlessServes(1, tokens);
    const shard = pool.take(tokens, tokens, 0);
    if (!shard) return;
    const attempt = ++this.attempts;
    const routes = Array.from({ length: M }, (_, m) => live.map((ids) => m % ids.length));
    const deadline = clock.now() + stepMs;
    const c: OpenStep = {
      step,
      attempt,
      stages: live,
      routes,
      shard,
      openedAt: clock.now(),
      norms: new Map(),
      sums: null,
      reports: new Map(),
      closing: false,
      timer: null,
    };
    c.timer = clock.setTimeout(() => {
      if (this.current !== c || c.closing) return;
      // Who stalled it cannot be told (replica-record.ts): every stage is suspect. A newcomer
      // that never committed on its stage counts twice: a key that joins, stalls its first step
      // and comes back otherwise costs a deadline each time it is seated. (A replica a narrowed
      // step left out, fetching the state again, does not: its twin may be the one stalling.)
      this.stalls.stalled(c.step, c.stages.keys());
      for (const [s, ids] of c.stages.entries())
        for (const id of ids)
          if (this.needsState.has(id) && !this.committedOn[s]?.has(id)) this.record.failed(id);
      this.fail(c, null, c.stages.flat(), 'the step passed its deadline');
    }, stepMs);
    this.current = c;
    for (const [s, ids] of live.entries())
      for (const id of ids)
        this.peers.get(id)?.link.send({
          type: 'stage-assignment',
          step,
          attempt,
          stage: s,
          layers: this.split[s] as LayerRange,
          stages: live.map((x) => [...x]),
          routes: routes.map((r) => [...r]),
          shard,
          stateFrom: sourceOf.get(id) ?? null,
          stateTo: [...sourceOf].filter(([, source]) => source === id).map(([newcomer]) => newcomer),
          learningRate: pipelineLearningRate(config, this.pipeline, step),
          deadline,
        });
    log.info({ step, stages: live.map((ids) => ids.length) }, 'pipeline step opened');
  }

  /**
   * Whether `stage`'s norm history bounds this attempt: only when every replica of it in the
   * attempt has committed on it before. The history is theirs; a newcomer's gradient measured
   * against a sole replica's drifted sums would be refused for the other's lies.
   */
  private boundedBy(c: OpenStep, stage: number): boolean {
    const known = this.committedOn[stage];
    return (c.stages[stage] ?? []).every((id) => known?.has(id));
  }

  /** Whether `stage` runs on one replica at `step`: a suspect of this step, or in a stall's window. */
  private narrows(stage: number, step: number): boolean {
    return this.narrowed.has(stage) || this.stalls.narrows(stage, step);
  }

  /** A stage's replicas disagree: which is right cannot be told, so it counts as a stall. */
  private disagreed(c: OpenStep, stage: number, reason: string): void {
    this.disagreements++;
    this.unpinned(c, stage, reason);
  }

  /** `stage` failed the attempt in a way no one replica can be blamed for: a stall of that stage. */
  private unpinned(c: OpenStep, stage: number, reason: string): void {
    this.stalls.stalled(c.step, [stage]);
    this.fail(c, stage, c.stages[stage] ?? [], reason);
  }

  /**
   * The attempt failed with `suspects` to blame (one replica, or a whole stage when it cannot be
   * told which): abort it and open it again with `stage` (when one is named) on one replica.
   */
  private fail(c: OpenStep, stage: number | null, suspects: readonly string[], reason: string): void {
    for (const id of suspects) this.record.failed(id);
    if (stage !== null) this.narrowed.add(stage);
    this.options.log.warn({ step: c.step, stage, suspects }, reason);
    this.abort(c, reason);
    this.openStep();
  }

  private abort(c: OpenStep, reason: string): void {
    const { clock, log, pool } = this.options;
    c.closing = true;
    clock.clearTimeout(c.timer);
    pool.release(c.shard);
    for (const id of c.stages.flat())
      this.peers.get(id)?.link.send({ type: 'stage-abort', step: c.step, reason });
    if (this.current === c) this.current = null;
    this.abortedSteps++;
    log.warn({ step: c.step, reason }, 'pipeline step aborted');
  }

  /** Every replica reported: commit if each stage's replicas hold the same weights. */
  private async finish(c: OpenStep): Promise<void> {
    const { clock, log, config } = this.options;
    const agreed = agreedPerStage(c.stages, (id) => c.reports.get(id)?.paramsHash);
    if (!agreed.ok) {
      this.disagreed(c, agreed.stage, `the replicas of stage ${agreed.stage} hold different weights`);
      return;
    }
    const hashes = agreed.values as string[];
    c.closing = true;
    clock.clearTimeout(c.timer);
    const modelHash = await sha256Hex(new TextEncoder().encode(hashes.join('|')));
    const { microbatches: M, microbatchSize: B } = this.pipeline;
    const T = config.inner.seqLen;
    const credited = stageCredits(
      {
        model: config.model,
        options: { B, T },
        stages: c.stages.map((ids, s) => ({
          stage: s,
          layers: this.split[s] as LayerRange,
          members: ids.map((id) => ({ id })),
        })),
      },
      c.stages.flatMap((ids, s) =>
        ids.map((id, r) => ({
          stage: s,
          volunteer: id,
          microbatches: c.routes.filter((x) => x[s] === r).length,
        })),
      ),
    );
    const busyMs = clock.now() - c.openedAt;
    const credits: CreditLine[] = credited.lines
      .filter((line) => line.tokens > 0)
      // Pipeline steps are not checked yet: their credit stays provisional.
      .map((line) => ({
        peerKey: line.volunteer,
        tokens: line.tokens,
        flops: line.flops,
        busyMs,
        status: 'provisional' as const,
      }));
    const lossSum = (c.stages.at(-1) ?? []).reduce((sum, id) => sum + (c.reports.get(id)?.lossSum ?? 0), 0);
    const record: CommitRecord = {
      round: c.step,
      modelHash,
      trainLoss: lossSum / M,
      shards: [c.shard],
      credits,
      members: credits.map(({ peerKey }) => ({
        peerKey,
        name: this.peers.get(peerKey)?.link.name ?? '',
        busyMs,
      })),
      settlements: [],
      bans: [],
    };
    let outcome: Awaited<ReturnType<CommitRound>>;
    try {
      outcome = await this.options.commit(record);
    } catch (error) {
      log.error({ err: error, step: c.step }, 'the ledger refused a pipeline step');
      c.closing = false;
      this.abort(c, 'the ledger could not record the step');
      this.openStep();
      return;
    }
    this.committed = { round: c.step, modelHash };
    this.afterCommit(c, hashes);
    if (this.current === c) this.current = null;
    for (const id of c.stages.flat()) {
      const link = this.peers.get(id)?.link;
      link?.send({ type: 'stage-commit', step: c.step, modelHash, head: outcome.head });
      const receipt = outcome.receipts.get(id);
      if (receipt) link?.send({ type: 'receipt', receipt });
    }
    log.info(
      {
        step: c.step,
        modelHash,
        trainLoss: record.trainLoss,
        gradNorm: wholeModelNorm(c.sums ?? []),
        flops: credited.perStage.map(String),
      },
      'pipeline step committed',
    );
    this.options.onCommitted?.(record);
    this.openStep();
  }

  /**
   * What a commit settles besides the ledger: the step's replicas hold its weights (and may
   * reclaim them after a drop); the seated ones left out of it do not, and fetch them when next
   * seated; whoever failed in the step and is not among them sits out a cool-down.
   */
  private afterCommit(c: OpenStep, hashes: readonly string[]): void {
    const members = c.stages.flat();
    this.stageHashes = hashes;
    this.heldAtCommit.clear();
    for (const [s, ids] of c.stages.entries()) for (const id of ids) this.heldAtCommit.set(id, s);
    for (const id of members) this.needsState.delete(id);
    for (const id of this.seating?.flat() ?? []) if (!this.heldAtCommit.has(id)) this.needsState.add(id);
    for (const [s, ids] of c.stages.entries()) {
      if (!this.boundedBy(c, s)) this.normBound.restart(s);
      for (const id of ids) this.committedOn[s]?.add(id);
    }
    this.normBound.committed(c.sums ?? []);
    this.stalls.committed([...c.stages.keys()].filter((s) => !this.narrows(s, c.step)));
    this.narrowed.clear();
    for (const [id, until] of this.record.committed(c.step, members)) {
      this.options.log.warn({ peer: id, until }, 'a pipeline replica that failed a step sits out');
      this.peers.get(id)?.link.send({
        type: 'wait',
        reason: `this volunteer failed step ${c.step} and sits out until step ${until}`,
        retryAt: null,
      });
    }
  }
}

/** Per stage, the one value all its replicas sent; or the first stage whose replicas differ. */
function agreedPerStage<T>(
  stages: readonly (readonly string[])[],
  sent: (id: string) => T,
): { ok: true; values: T[] } | { ok: false; stage: number } {
  const values: T[] = [];
  for (const [stage, ids] of stages.entries()) {
    const held = new Set(ids.map(sent));
    if (held.size !== 1) return { ok: false, stage };
    values.push([...held][0] as T);
  }
  return { ok: true, values };
}
