// One training run as the relay holds it: its config and identity, the dataset it hands out,
// the round coordinator, the ledger and the checkpoints. Opening it resumes from the last
// committed round in the ledger: the coordinator starts from that round's state (the relay
// wrote it before it committed the round), and the shard pool replays every committed round's
// ranges so none is trained twice in the epoch.

import { expectedFrameBytes } from '../../protocol/compression-settings.ts';
import type { DatasetManifest } from '../../protocol/dataset-manifest.ts';
import { maxFrameBytesInRunFormat } from '../../protocol/frame-format.ts';
import { initParams } from '../../protocol/init-params.ts';
import { modelHash } from '../../protocol/model-hash.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import type { LossPoint, RunSummary } from '../../protocol/run-api.ts';
import { type RunConfig, runIdentity } from '../../protocol/run-config.ts';
import { CheckpointStore } from '../checkpoints/checkpoint-store.ts';
import type { Clock } from '../clock.ts';
import { loadSplitTokens } from '../datasets/loader.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { Logger } from '../logger.ts';
import { PipelineCoordinator } from '../pipeline/pipeline-coordinator.ts';
import { type CommitRecord, type CommitRound, Coordinator } from '../rounds/coordinator.ts';
import { EquivocationLog } from '../rounds/equivocation-log.ts';
import { ShardPool } from '../rounds/shard-pool.ts';
import { validationLoss } from '../rounds/validation-loss.ts';

export interface RelayRunOptions {
  readonly config: RunConfig;
  readonly dataset: { readonly dir: string; readonly manifest: DatasetManifest };
  readonly ledger: Ledger;
  readonly relayKey: string;
  readonly checkpointDir: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** After each commit (metrics). */
  readonly onCommitted?: (record: CommitRecord) => void;
}

export class RelayRunError extends Error {
  readonly code = 'ERR_RUN_STATE_MISSING';
}

export class RelayRun {
  private constructor(
    readonly id: string,
    readonly configHash: string,
    readonly config: RunConfig,
    readonly paramCount: number,
    /** Bytes of one round frame in the run's format: the upload limit. */
    readonly maxFrameBytes: number,
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
    const runDir = `${options.checkpointDir}/${runId}`;
    // Every kept state the guard may roll back to, and the one being committed.
    const checkpoints = await CheckpointStore.open(runDir, config.model, config.guard.keepCheckpoints + 1);
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
    const maxFrameBytes = maxFrameBytesInRunFormat(layout.totalFloats, config.round.compression);
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
          onCommitted: (record) => options.onCommitted?.(record),
        })
      : await roundCoordinator();
    async function roundCoordinator(): Promise<Coordinator> {
      const state = committed.round < 0 ? init : await checkpoints.load(committed.modelHash);
      if (!state)
        throw new RelayRunError(
          `the ledger's last round ${committed.round} (${committed.modelHash.slice(0, 12)}) has no state file in ${runDir}; ` +
            'this state folder was written by an older relay: start a new run or restore the checkpoint',
        );
      const validate = validationLoss(config, await loadSplitTokens(dataset.dir, 'val'));
      const equivocations = await EquivocationLog.open(`${runDir}/equivocations.jsonl`);
      return new Coordinator(
        {
          config,
          configHash,
          runId,
          layout,
          frameBytes,
          maxFrameBytes,
          committed,
          state,
          states: checkpoints,
          validate,
          pool,
          clock: options.clock,
          log,
          commit,
          excluded: equivocations.authors,
          onEquivocation: (proof) =>
            void equivocations
              .record(proof)
              .catch((error: unknown) => log.error({ err: error }, 'could not record an equivocation')),
          onCommitted: (record) => options.onCommitted?.(record),
        },
        validate?.(state.weights) ?? null,
      );
    }
    const run = new RelayRun(
      runId,
      configHash,
      config,
      layout.paramCount,
      maxFrameBytes,
      dataset,
      ledger,
      options.relayKey,
      checkpoints,
      pool,
      log,
      coordinator,
    );
    log.info({ runId, committedRound: committed.round, modelHash: committed.modelHash }, 'run opened');
    return run;
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
      hashDisagreements: this.coordinator instanceof Coordinator ? this.coordinator.hashDisagreements : 0,
      rolledBack: this.coordinator instanceof Coordinator ? this.coordinator.rolledBack : 0,
      stampBits: this.config.identity.stampBits,
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
}
