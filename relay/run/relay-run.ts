// One training run as the relay holds it: its config and identity, the dataset it hands out,
// the round coordinator, the ledger and the checkpoints. Opening it resumes from the last
// committed round in the ledger: the coordinator starts from that round's state (the relay
// wrote it before it committed the round), and the shard pool replays every committed round's
// ranges so none is trained twice in the epoch.

import { expectedFrameBytes } from '../../protocol/compression-settings.ts';
import { maxFrameBytesInRunFormat } from '../../protocol/frame-format.ts';
import { encodeLocalState } from '../../protocol/local-state-file.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import type { DatasetLossPoint, DatasetStatus, LossPoint, RunSummary } from '../../protocol/run-api.ts';
import { type RunConfig, runIdentity } from '../../protocol/run-config.ts';
import {
  type CheckpointArchive,
  CheckpointStore,
  type StoredCheckpoint,
} from '../checkpoints/checkpoint-store.ts';
import type { Clock } from '../clock.ts';
import { loadRunSplit, poolDatasets, type RunData } from '../datasets/run-data.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { Logger } from '../logger.ts';
import { PipelineCoordinator } from '../pipeline/pipeline-coordinator.ts';
import type { CooldownRecord } from '../rounds/cooldown-record.ts';
import { type CommitRecord, Coordinator } from '../rounds/coordinator.ts';
import { EquivocationLog, type EquivocationRecord } from '../rounds/equivocation-log.ts';
import type { PendingCheckRecord } from '../rounds/pending-check-record.ts';
import type { RoundEvents } from '../rounds/round-events.ts';
import { ShardPool } from '../rounds/shard-pool.ts';
import { startWorkCheckThread } from '../rounds/work-check-thread.ts';
import { DatasetLosses } from './dataset-losses.ts';
import { type InitialState, initialState } from './initial-state.ts';
import { type CommitFence, ledgerCommit } from './ledger-commit.ts';

export interface RelayRunOptions {
  readonly config: RunConfig;
  /** Its one dataset, or each of its mixture's (relay/datasets/run-data.ts). */
  readonly dataset: RunData;
  readonly ledger: Ledger;
  readonly relayKey: string;
  /** Files in this folder, unless `checkpoints` is given (PostgreSQL, for several relays). */
  readonly checkpointDir: string;
  readonly checkpoints?: (runId: string) => Promise<CheckpointArchive>;
  /** Proven equivocations: a file in the run's checkpoint folder unless given. */
  readonly equivocations?: (runId: string) => Promise<EquivocationRecord>;
  /** The checks asked for and not yet settled, kept beside the ledger (pending-check-record.ts). */
  readonly pendingChecks?: PendingCheckRecord;
  /** The operator's start of a wsd or infinite schedule's cooldown, kept beside the ledger. */
  readonly cooldowns?: CooldownRecord;
  /** Checked inside each round's commit transaction (the cluster lease, leadership.ts). */
  readonly fence?: CommitFence;
  /** False for a relay of a cluster that does not lead yet: no coordinator until lead(). */
  readonly lead?: boolean;
  readonly clock: Clock;
  readonly log: Logger;
  /** After each commit (metrics). */
  readonly onCommitted?: (record: CommitRecord) => void;
  /** Rounds opened, committed and aborted, frames not counted, bans (relay/metrics.ts). */
  readonly events?: RoundEvents;
}

/** A local state file's size for `n` floats per tensor, with room for the longest step and round. */
function maxLocalStateBytes(n: number): number {
  const zeros = new Float32Array(n);
  const step = Number.MAX_SAFE_INTEGER;
  return encodeLocalState({ m: zeros, v: zeros, residual: zeros, step, round: step }).byteLength;
}

export class RelayRunError extends Error {
  constructor(
    readonly code: 'ERR_RUN_STATE_MISSING' | 'ERR_RUN_NOT_LEADING',
    message: string,
  ) {
    super(message);
  }
}

export class RelayRun {
  private current: Coordinator | PipelineCoordinator | null = null;
  private currentPool: ShardPool;
  private losses: DatasetLosses | null = null;

  private constructor(
    readonly id: string,
    readonly configHash: string,
    readonly config: RunConfig,
    readonly paramCount: number,
    /** Bytes of one round frame in the run's format: the upload limit. */
    readonly maxFrameBytes: number,
    /** Most bytes of a member's own state (protocol/local-state-file.ts): that upload's limit. */
    readonly maxLocalStateBytes: number,
    readonly dataset: RelayRunOptions['dataset'],
    readonly ledger: Ledger,
    readonly relayKey: string,
    readonly checkpoints: CheckpointArchive,
    readonly log: Logger,
    private readonly options: RelayRunOptions,
    private readonly init: InitialState,
    private readonly equivocations: EquivocationRecord,
    private readonly runDir: string,
  ) {
    this.currentPool = new ShardPool(poolDatasets(dataset));
  }

  static async open(options: RelayRunOptions): Promise<RelayRun> {
    const { config, dataset, ledger, log } = options;
    const { runId, configHash } = await runIdentity(config);
    const layout = paramLayout(config.model);
    await ledger.ensureRun(runId, config);
    const runDir = `${options.checkpointDir}/${runId}`;
    // Every kept state the guard may roll back to, and the one being committed.
    const keep = config.guard.keepCheckpoints + 1;
    const checkpoints = options.checkpoints
      ? await options.checkpoints(runId)
      : await CheckpointStore.open(runDir, config.model, keep);
    // θ_0 of the seed, or the model the config's origin names: refused here, before the run
    // opens, when it does not fit the model (initial-state.ts).
    const init = await initialState({
      config,
      runId,
      ledger,
      checkpoints,
      sources: {
        runConfig: (id) => ledger.runConfig(id),
        rounds: (id) => ledger.rounds(id),
        archive: (id) =>
          options.checkpoints
            ? options.checkpoints(id)
            : CheckpointStore.open(`${options.checkpointDir}/${id}`, config.model),
      },
    });
    const maxFrameBytes = maxFrameBytesInRunFormat(layout.totalFloats, config.round.compression);
    const equivocations = options.equivocations
      ? await options.equivocations(runId)
      : await EquivocationLog.open(`${runDir}/equivocations.jsonl`);
    const run = new RelayRun(
      runId,
      configHash,
      config,
      layout.paramCount,
      maxFrameBytes,
      maxLocalStateBytes(layout.totalFloats),
      dataset,
      ledger,
      options.relayKey,
      checkpoints,
      log,
      options,
      init,
      equivocations,
      runDir,
    );
    if (options.lead !== false) await run.lead();
    return run;
  }

  /** Whether this relay runs the run's coordinator (always, unless it is a follower of a cluster). */
  get leading(): boolean {
    return this.current !== null;
  }

  /** The run's coordinator; only on the relay that leads (see `leading`). */
  get coordinator(): Coordinator | PipelineCoordinator {
    if (!this.current) throw new RelayRunError('ERR_RUN_NOT_LEADING', 'this relay does not lead the run');
    return this.current;
  }

  /** The shard pool as the leading coordinator holds it (rebuilt from the ledger at each lead()). */
  get pool(): ShardPool {
    return this.currentPool;
  }

  /**
   * Starts coordinating from the ledger as it stands: the last committed round and its state,
   * the shard pool replayed from every committed round (none is trained twice in the epoch),
   * bans and probation from the standings. A relay taking a run over from another does the same.
   */
  async lead(): Promise<Coordinator | PipelineCoordinator> {
    if (this.current) return this.current;
    const { config, dataset, ledger, log } = this.options;
    const { init, runDir, id: runId, configHash, checkpoints } = this;
    const layout = paramLayout(config.model);
    await checkpoints.sync();
    const pool = new ShardPool(poolDatasets(dataset));
    const losses = await DatasetLosses.open(config, dataset, `${runDir}/dataset-losses.jsonl`, log);
    const rounds = await ledger.rounds(runId);
    for (const r of rounds) pool.replayCommitted(r.shards.map(([start, end]) => ({ start, end })));
    const last = rounds[rounds.length - 1];
    const committed = last
      ? { round: last.round, modelHash: last.modelHash }
      : { round: -1, modelHash: init.hash };
    const frameBytes = expectedFrameBytes(layout.totalFloats, config.round.compression);
    // One ledger transaction per round (or pipeline step).
    const commit = losses.commits(ledgerCommit(ledger, runId, this.options.fence));
    const onCommitted = (record: CommitRecord) => this.options.onCommitted?.(record);
    const options = this.options;
    const equivocations = this.equivocations;
    const coordinator = config.pipeline
      ? new PipelineCoordinator({ config, committed, pool, commit, clock: options.clock, log, onCommitted })
      : await roundCoordinator();
    async function roundCoordinator(): Promise<Coordinator> {
      const state = committed.round < 0 ? init.state : await checkpoints.load(committed.modelHash);
      if (!state)
        throw new RelayRunError(
          'ERR_RUN_STATE_MISSING',
          `the ledger's last round ${committed.round} (${committed.modelHash.slice(0, 12)}) has no state file in ${runDir}; ` +
            'this state folder was written by an older relay: start a new run or restore the checkpoint',
        );
      const validate = losses.validate;
      // Read once, when the first check needs it: what a checked member was assigned.
      let train: Promise<Uint16Array> | null = null;
      const trainTokens = async (range: { start: number; end: number }) => {
        train ??= loadRunSplit(dataset, 'train');
        return (await train).subarray(range.start, range.end);
      };
      // Redoing a checked round takes the CPU a while: off the event loop.
      const checks = startWorkCheckThread();
      // Bans and passed checks are ledger entries: a restarted relay keeps both. Checks the
      // relay before this one asked for and never settled cannot be done now.
      const standings = await ledger.standings(runId);
      const lostChecks = (await options.pendingChecks?.takeLost()) ?? [];
      if (lostChecks.length > 0)
        log.warn({ lost: lostChecks.length }, 'checks lost with the relay that asked: forfeiting');
      const banned = [...standings].filter(([, s]) => s.banned).map(([key]) => key);
      return new Coordinator(
        {
          config,
          configHash,
          runId,
          layout,
          frameBytes,
          maxFrameBytes: maxFrameBytesInRunFormat(layout.totalFloats, config.round.compression),
          committed,
          state,
          states: losses.states(checkpoints),
          validate,
          pool,
          clock: options.clock,
          log,
          commit,
          trainTokens,
          checkWork: (work) => checks.check(work),
          onClose: () => void checks.close(),
          excluded: new Set([...(await equivocations.authors()), ...banned]),
          verifiedRounds: new Map([...standings].map(([key, s]) => [key, s.verifiedRounds])),
          pendingChecks: options.pendingChecks,
          lostChecks,
          onEquivocation: (proof) =>
            void equivocations
              .record(proof)
              .catch((error: unknown) => log.error({ err: error }, 'could not record an equivocation')),
          onCommitted,
          events: options.events,
          // Read at every lead(): another relay of the cluster may have started it since.
          cooldownTriggered: (await options.cooldowns?.read()) ?? null,
          cooldowns: options.cooldowns,
        },
        losses.start(state.weights),
      );
    }
    this.currentPool = pool;
    this.losses = losses;
    this.current = coordinator;
    log.info({ runId, committedRound: committed.round, modelHash: committed.modelHash }, 'run opened');
    return coordinator;
  }

  /** Stops coordinating (the lease moved to another relay); lead() starts again from the ledger. */
  follow(): void {
    this.current?.close();
    this.current = null;
  }

  /**
   * The state of the last committed round. Not the newest file: the relay writes a round's state
   * before its ledger commit, so after a crash between the two the newest file is a round the
   * ledger never committed, and serving it would leave every peer unable to catch up.
   */
  async committedCheckpoint(): Promise<{
    round: number;
    modelHash: string;
    stored: StoredCheckpoint;
  } | null> {
    const { round, modelHash } = await this.lastCommitted();
    if (!this.checkpoints.find(modelHash)) await this.checkpoints.sync();
    const stored = this.checkpoints.find(modelHash);
    return stored ? { round, modelHash, stored } : null;
  }

  /** The last committed round: the coordinator's where this relay leads, else the ledger's. */
  async lastCommitted(): Promise<{ readonly round: number; readonly modelHash: string }> {
    if (this.current) return this.current.lastCommitted;
    const last = await this.ledger.lastRound(this.id);
    return last ? { round: last.round, modelHash: last.modelHash } : { round: -1, modelHash: this.init.hash };
  }

  /** Only where this relay leads: a follower forwards the routes that need it (cluster/). */
  async summary(): Promise<RunSummary> {
    const latest = await this.committedCheckpoint();
    return {
      id: this.id,
      name: this.config.name,
      configHash: this.configHash,
      paramCount: this.paramCount,
      committedRound: this.coordinator.lastCommitted.round,
      modelHash: this.coordinator.lastCommitted.modelHash,
      peers: this.coordinator.connectedPeers,
      roundInProgress: this.coordinator.roundInProgress,
      epoch: this.pool.epoch,
      checkpoint: latest ? { round: latest.round, modelHash: latest.modelHash } : null,
      hashDisagreements: this.coordinator instanceof Coordinator ? this.coordinator.hashDisagreements : 0,
      rolledBack: this.coordinator instanceof Coordinator ? this.coordinator.rolledBack : 0,
      stampBits: this.config.identity.stampBits,
      origin: this.init.origin,
    };
  }

  /** Each dataset the run trains on (its share, epoch, newest loss) and every round's loss on each. */
  datasetReport(): { datasets: DatasetStatus[]; datasetLoss: DatasetLossPoint[] } {
    if (!this.losses) throw new RelayRunError('ERR_RUN_NOT_LEADING', 'this relay does not lead the run');
    return { datasets: this.losses.statuses(this.pool), datasetLoss: this.losses.points() };
  }

  async lossCurve(): Promise<LossPoint[]> {
    return (await this.ledger.rounds(this.id)).map((r) => ({
      round: r.round,
      trainLoss: r.trainLoss,
      tokens: r.tokens,
      committedAt: r.committedAt,
    }));
  }
}
