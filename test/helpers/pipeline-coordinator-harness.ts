// A pipeline coordinator on a manual clock with no sockets: volunteers are inboxes, the ledger
// a list, and helpers send every seated replica's norm and report for an assignment.
import { expect } from 'vitest';
import type { RelayMessage } from '../../protocol/swarm-messages.ts';
import { ManualClock } from '../../relay/clock.ts';
import { silentLogger } from '../../relay/logger.ts';
import { PipelineCoordinator } from '../../relay/pipeline/pipeline-coordinator.ts';
import type { CommitRecord } from '../../relay/rounds/coordinator.ts';
import { ShardPool } from '../../relay/rounds/shard-pool.ts';
import { resolveRunConfig } from '../../relay/run/run-config.ts';

const resolved = resolveRunConfig({
  model: { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 4, nHead: 2 },
  inner: { batchSize: 8, seqLen: 16, warmupRounds: 0 },
  pipeline: { stages: 2, microbatches: 4, microbatchSize: 2, stepMs: 10_000 },
  schedule: { minPeers: 3, gatherMs: 100 },
});
if (!resolved.ok) throw new Error(resolved.message);
export const config = resolved.config;
export const KEY = (c: string) => `${c.repeat(43).slice(0, 42)}A`;
export const [A, B, C] = [KEY('a'), KEY('b'), KEY('c')];
export const HASH = (c: string) => c.repeat(64);

export type StageAssignment = Extract<RelayMessage, { type: 'stage-assignment' }>;

export function setup(random?: () => number) {
  const clock = new ManualClock();
  const inbox = new Map<string, RelayMessage[]>();
  const commits: CommitRecord[] = [];
  const pool = new ShardPool(1_000_000);
  const coordinator = new PipelineCoordinator({
    config,
    committed: { round: -1, modelHash: HASH('0') },
    pool,
    clock,
    log: silentLogger,
    random,
    commit: async (record) => {
      commits.push(record);
      return { head: null, receipts: new Map(record.credits.map((c) => [c.peerKey, { for: c.peerKey }])) };
    },
  });
  for (const id of [A, B, C]) {
    inbox.set(id, []);
    coordinator.join({ id, name: id, send: (m) => inbox.get(id)?.push(m) });
  }
  const last = <T extends RelayMessage['type']>(id: string, type: T) =>
    inbox
      .get(id)
      ?.filter((m): m is Extract<RelayMessage, { type: T }> => m.type === type)
      .at(-1);
  /** Every seated volunteer sends `sumOf(stage)` as its stage's gradient norm for the open step. */
  const normAll = (a: StageAssignment, sumOf = (s: number) => s + 1) => {
    for (const [s, ids] of a.stages.entries())
      for (const id of ids)
        coordinator.stageNorm(id, { step: a.step, attempt: a.attempt, stage: s, sumOfSquares: sumOf(s) });
  };
  /** Every seated volunteer sends its norm, then reports `hashOf(stage)` for the open step. */
  const reportAll = (a: StageAssignment, hashOf = (s: number) => HASH(String(s + 1))) => {
    normAll(a);
    for (const [s, ids] of a.stages.entries())
      for (const id of ids)
        coordinator.stageReport(id, {
          step: a.step,
          stage: s,
          paramsHash: hashOf(s),
          lossSum: s === 1 ? 2 : null,
        });
  };
  /** The newest attempt's assignment, whoever of the seated it went to. */
  const latest = (): StageAssignment =>
    [...inbox.values()]
      .flatMap((ms) => ms.filter((m): m is StageAssignment => m.type === 'stage-assignment'))
      .sort((x, y) => y.attempt - x.attempt)[0] as StageAssignment;
  return { clock, coordinator, inbox, last, latest, commits, pool, normAll, reportAll };
}

export const settle = () => new Promise((r) => setTimeout(r, 0));
/** The commit hashes with WebCrypto and awaits the ledger: under load that takes more than a tick. */
export const committed = (c: PipelineCoordinator, step: number) =>
  expect.poll(() => c.lastCommitted.round, { timeout: 10_000, interval: 5 }).toBe(step);
