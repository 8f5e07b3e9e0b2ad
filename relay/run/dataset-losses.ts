// The run's loss on each dataset of its mixture (protocol/data-mixture.ts), so a continual run
// shows what it forgets of the old data while it learns the new. The relay scores every state
// on each dataset's first held-out sequences (validation-loss.ts, guard.validationSequences per
// dataset); the guard and the run's loss curve take the mixture's weighted loss, Σ share × loss,
// the objective the run trains. A loss rising on one dataset while the mixture's falls is what
// continual pretraining with little replay does, so it is reported, not rolled back; a poisoned
// state still shows in the weighted loss, the one figure every state is judged by. Each
// committed round's losses are appended to a file in the run's folder, so a restarted relay
// keeps the history (a relay of a cluster keeps the rounds it scored itself).

import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as v from 'valibot';
import { DatasetLossPoint, type DatasetStatus } from '../../protocol/run-api.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import { loadSplitTokens } from '../datasets/loader.ts';
import type { RunData } from '../datasets/run-data.ts';
import type { Logger } from '../logger.ts';
import type { CommitRound, StateStore } from '../rounds/coordinator.ts';
import type { ShardPool } from '../rounds/shard-pool.ts';
import { type ValidationLoss, validationLoss } from '../rounds/validation-loss.ts';

type Losses = readonly (number | null)[];

/** States saved but not yet committed whose losses are kept: the guard's checkpoints and more. */
const MAX_PENDING = 128;

export class DatasetLosses {
  /** Per-dataset losses of the weights last scored, until their state is saved. */
  private readonly scored = new WeakMap<Float32Array, Losses>();
  /** Per-dataset losses of saved states, by model hash, until their round commits. */
  private readonly saved = new Map<string, Losses>();
  private latest: Losses;

  private constructor(
    private readonly data: RunData,
    private readonly scorers: readonly (ValidationLoss | null)[],
    private readonly file: string,
    private readonly history: DatasetLossPoint[],
    private readonly log: Logger,
  ) {
    this.latest = data.parts.map(() => null);
  }

  /** Scorers over each dataset's validation split; the history kept in `file`. */
  static async open(config: RunConfig, data: RunData, file: string, log: Logger): Promise<DatasetLosses> {
    const scorers: (ValidationLoss | null)[] = [];
    for (const part of data.parts)
      scorers.push(validationLoss(config, await loadSplitTokens(part.dir, 'val')));
    await mkdir(dirname(file), { recursive: true });
    return new DatasetLosses(data, scorers, file, await readHistory(file, data.parts.length), log);
  }

  /**
   * The mixture's weighted loss of a state, Σ share × loss over the datasets the relay can
   * score (their shares renormalized); null when it scores none (the guard is off). For a
   * single dataset it is that dataset's loss, exactly as before mixtures.
   */
  get validate(): ValidationLoss | null {
    if (this.scorers.every((s) => s === null)) return null;
    return (weights) => {
      const losses = this.scorers.map((score) => (score ? score(weights) : null));
      this.scored.set(weights, losses);
      return weighted(
        losses,
        this.data.parts.map((p) => p.share),
      );
    };
  }

  /** Scores the state the run starts (or resumes) from: its weighted loss, null when unscored. */
  start(weights: Float32Array): number | null {
    const loss = this.validate?.(weights) ?? null;
    this.latest = this.scored.get(weights) ?? this.latest;
    return loss;
  }

  /** The coordinator's state store, noting which scored losses belong to which model hash. */
  states(store: StateStore): StateStore {
    return {
      save: (round, hash, state) => {
        const losses = this.scored.get(state.weights);
        if (losses) {
          this.saved.set(hash, losses);
          while (this.saved.size > MAX_PENDING) this.saved.delete(this.saved.keys().next().value as string);
        }
        return store.save(round, hash, state);
      },
      load: (hash) => store.load(hash),
    };
  }

  /** The coordinator's ledger commit, recording each scored round's losses once it committed. */
  commits(commit: CommitRound): CommitRound {
    return async (record) => {
      const outcome = await commit(record);
      const losses = this.saved.get(record.modelHash);
      if (losses) this.latest = losses; // a rollback's state too: it is the newest now
      if (losses && record.trainLoss !== null) {
        const point = { round: record.round, valLoss: [...losses] };
        this.history.push(point);
        await appendFile(this.file, `${JSON.stringify(point)}\n`).catch((error: unknown) =>
          this.log.error({ err: error, round: record.round }, 'could not keep the per-dataset losses'),
        );
      }
      return outcome;
    };
  }

  /** Each dataset with its share, epoch, tokens handed out and newest loss. */
  statuses(pool: ShardPool): DatasetStatus[] {
    return this.data.parts.map((part, i) => ({
      dataset: part.name,
      share: part.share,
      epoch: pool.epochs[i] ?? 0,
      tokens: pool.handedTokens[i] ?? 0,
      valLoss: this.latest[i] ?? null,
    }));
  }

  /** Every scored committed round's losses, oldest first. */
  points(): DatasetLossPoint[] {
    return [...this.history];
  }
}

function weighted(losses: Losses, shares: readonly number[]): number {
  let sum = 0;
  let weight = 0;
  for (const [i, loss] of losses.entries()) {
    if (loss === null) continue;
    sum += (shares[i] as number) * loss;
    weight += shares[i] as number;
  }
  return sum / weight;
}

/** The kept history: lines that parse and name every dataset, one per round, in round order. */
async function readHistory(file: string, datasets: number): Promise<DatasetLossPoint[]> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const byRound = new Map<number, DatasetLossPoint>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      continue; // a line cut short by a crash: the rounds before it still stand
    }
    if (v.is(DatasetLossPoint, json) && json.valLoss.length === datasets) byRound.set(json.round, json);
  }
  return [...byRound.values()].sort((a, b) => a.round - b.round);
}
