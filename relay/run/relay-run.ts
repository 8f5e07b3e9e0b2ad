// One training run as the relay holds it: its config and identity, the dataset it hands out,
// the round coordinator, the ledger and the checkpoints. Opening it resumes from the last
// committed round in the ledger: the coordinator starts from that round's model hash, and the
// shard pool replays every committed round's ranges so none is trained twice in the epoch.

import { expectedFrameBytes } from '../../protocol/compression-settings.ts';
import type { DatasetManifest } from '../../protocol/dataset-manifest.ts';
import { initParams } from '../../protocol/init-params.ts';
import { modelHash } from '../../protocol/model-hash.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import type { LossPoint, RunSummary } from '../../protocol/run-api.ts';
import { type RunConfig, runIdentity } from '../../protocol/run-config.ts';
import { CheckpointStore } from '../checkpoints/checkpoint-store.ts';
import type { Clock } from '../clock.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { Logger } from '../logger.ts';
import { PipelineCoordinator } from '../pipeline/pipeline-coordinator.ts';
import { type CommitRecord, type CommitRound, Coordinator } from '../rounds/coordinator.ts';
import { ShardPool } from '../rounds/shard-pool.ts';

export interface RelayRunOptions {
  readonly config: RunConfig;
  readonly dataset: { readonly dir: string; readonly manifest: DatasetManifest };
  readonly ledger: Ledger;
  readonly relayKey: string;
  readonly checkpointDir: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** After each commit (metrics). */
  readonly onCommitted?: (record: CommitRecord, disagreeing: number) => void;
}

/** How many recent committed hashes are remembered for checkpoint uploads. */
const RECENT_HASHES = 16;

export class RelayRun {
  private readonly recent = new Map<number, string>();
  /** Model-hash reports that disagreed with the committed hash since the relay started. */
  hashDisagreements = 0;

  private constructor(
    readonly id: string,
    readonly configHash: string,
    readonly config: RunConfig,
    readonly paramCount: number,
    readonly maxCheckpointBytes: number,
    readonly dataset: RelayRunOptions['dataset'],
    readonly ledger: Ledger,
    readonly relayKey: string,
    readonly checkpoints: CheckpointStore,
    readonly pool: ShardPool,
    readonly log: Logger,
    readonly coordinator: Coordinator | PipelineCoordinator,
  ) {}

  static async open(options: RelayRunOptions): Promise<RelayRun> {
    const { config, dataset, ledger, log } = options;
    const { runId, configHash } = await runIdentity(config);
    const layout = paramLayout(config.model);
    await ledger.ensureRun(runId, config);
    const checkpoints = await CheckpointStore.open(`${options.checkpointDir}/${runId}`, config.model);
    // θ_0 is the one set of weights the relay makes itself: every peer can check its hash.
    const init = {
      weights: initParams(config.model, config.seed),
      momentum: new Float32Array(layout.totalFloats),
    };
    const initHash = await modelHash(init.weights, init.momentum);
    if (!checkpoints.has(initHash)) await checkpoints.save(-1, initHash, init);

    const pool = new ShardPool(dataset.manifest.splits.train.tokens);
    const rounds = await ledger.rounds(runId);
    for (const r of rounds) pool.replayCommitted(r.shards.map(([start, end]) => ({ start, end })));
    const last = rounds[rounds.length - 1];
    const committed = last
      ? { round: last.round, modelHash: last.modelHash }
      : { round: -1, modelHash: initHash };
    const frameBytes = expectedFrameBytes(layout.totalFloats, config.round.compression);

    let run: RelayRun | null = null;
    // One ledger transaction per round (or pipeline step); GPU time is bookkeeping beside it.
    const commit: CommitRound = async (record) => {
      const result = await ledger.commitRound({
        runId,
        ...record,
        credits: record.credits.map(({ peerKey, tokens, flops }) => ({ peerKey, tokens, flops })),
        shards: record.shards.map((s) => [s.start, s.end]),
      });
      for (const credit of record.credits)
        await ledger
          .touchPeer(credit.peerKey, null, credit.busyMs)
          .catch((error: unknown) =>
            log.warn({ err: error, peer: credit.peerKey }, 'could not record GPU time'),
          );
      return { head: result.head, receipts: new Map(result.receipts.map((r) => [r.entry.peerKey, r])) };
    };
    const coordinator = config.pipeline
      ? new PipelineCoordinator({
          config,
          committed,
          pool,
          commit,
          clock: options.clock,
          log,
          onCommitted: (record) => {
            run?.remember(record.round, record.modelHash);
            options.onCommitted?.(record, 0);
          },
        })
      : new Coordinator({
          config,
          configHash,
          paramCount: layout.paramCount,
          frameBytes,
          committed,
          pool,
          clock: options.clock,
          log,
          needsCheckpoint: (hash) => !checkpoints.has(hash),
          commit,
          onCommitted: (record, votes) => {
            run?.remember(record.round, record.modelHash);
            if (run) run.hashDisagreements += votes.disagreeing.length;
            options.onCommitted?.(record, votes.disagreeing.length);
          },
        });
    run = new RelayRun(
      runId,
      configHash,
      config,
      layout.paramCount,
      layout.totalFloats * 8 + 64 * 1024, // weights and momentum, fp32, plus the header
      dataset,
      ledger,
      options.relayKey,
      checkpoints,
      pool,
      log,
      coordinator,
    );
    run.remember(-1, initHash);
    for (const r of rounds.slice(-RECENT_HASHES)) run.remember(r.round, r.modelHash);
    log.info({ runId, committedRound: committed.round, modelHash: committed.modelHash }, 'run opened');
    return run;
  }

  /** The committed model hash of `round` if it is recent, else null. */
  committedHash(round: number): string | null {
    return this.recent.get(round) ?? null;
  }

  summary(): RunSummary {
    const latest = this.checkpoints.latest();
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
      hashDisagreements: this.hashDisagreements,
    };
  }

  async lossCurve(): Promise<LossPoint[]> {
    return (await this.ledger.rounds(this.id)).map((r) => ({
      round: r.round,
      trainLoss: r.trainLoss,
      tokens: r.tokens,
      committedAt: r.committedAt,
    }));
  }

  private remember(round: number, hash: string): void {
    this.recent.set(round, hash);
    for (const key of this.recent.keys())
      if (this.recent.size > RECENT_HASHES + 1 && key >= 0) this.recent.delete(key);
  }
}
