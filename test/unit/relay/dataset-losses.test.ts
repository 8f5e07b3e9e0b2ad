// The run's loss on each dataset of its mixture (relay/run/dataset-losses.ts): the guard's
// figure is the weighted loss, each committed round's per-dataset losses are recorded once
// its commit succeeded (a refused state's never), and a restarted relay reads them back.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initParams } from '../../../protocol/init-params.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import type { RoundState } from '../../../protocol/round-state-file.ts';
import { readBrownCorpus } from '../../../relay/datasets/brown.ts';
import { loadSplitTokens } from '../../../relay/datasets/loader.ts';
import { prepareDataset } from '../../../relay/datasets/prepare.ts';
import { openRunData, poolDatasets, type RunData } from '../../../relay/datasets/run-data.ts';
import { silentLogger } from '../../../relay/logger.ts';
import type { CommitRecord } from '../../../relay/rounds/coordinator.ts';
import { ShardPool } from '../../../relay/rounds/shard-pool.ts';
import { validationLoss } from '../../../relay/rounds/validation-loss.ts';
import { DatasetLosses } from '../../../relay/run/dataset-losses.ts';
import { fastRun, SCRIPTED_MODEL } from '../../helpers/test-relay.ts';

async function genre(letter: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `potluck-losses-${letter}-`));
  const documents = readBrownCorpus(undefined, [letter]).slice(0, 6);
  await prepareDataset({ documents, source: { kind: 'files', files: [letter] }, outDir: dir, valEvery: 3 });
  return dir;
}

let fiction = '';
let press = '';
let data: RunData;
const mixture = () => [
  { dataset: fiction, weight: 4 },
  { dataset: press, weight: 1 },
];
const config = () => fastRun(fiction, { dataset: mixture(), guard: { validationSequences: 2 } });

beforeAll(async () => {
  [fiction, press] = [await genre('k'), await genre('a')];
  data = await openRunData(mixture(), tmpdir(), silentLogger);
});

function record(round: number, modelHash: string, trainLoss: number | null): CommitRecord {
  return { round, modelHash, trainLoss, shards: [], credits: [], members: [], settlements: [], bans: [] };
}

function stateOf(seed: number): RoundState {
  const weights = initParams(SCRIPTED_MODEL, seed);
  return { weights, momentum: new Float32Array(paramLayout(SCRIPTED_MODEL).totalFloats) };
}

describe('DatasetLosses', () => {
  it('judges by the weighted loss and records each committed round per dataset, across a restart', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'potluck-losses-')), 'run', 'dataset-losses.jsonl');
    const losses = await DatasetLosses.open(config(), data, file, silentLogger);
    const own = await Promise.all(
      [fiction, press].map(async (dir) => validationLoss(config(), await loadSplitTokens(dir, 'val'))),
    );
    const saved: string[] = [];
    const store = { save: async (_r: number, hash: string) => void saved.push(hash), load: async () => null };
    const commit = losses.commits(async () => ({ head: null, receipts: new Map() }));
    const states = losses.states(store);
    const pool = new ShardPool(poolDatasets(data));

    const start = stateOf(1);
    const lossAt = losses.start(start.weights) as number;
    const [a0, b0] = own.map((score) => score?.(start.weights) as number);
    expect(lossAt).toBeCloseTo(0.8 * (a0 as number) + 0.2 * (b0 as number), 12);
    expect(losses.statuses(pool).map((s) => s.valLoss)).toEqual([a0, b0]);

    // Round 0 commits a new state; round 1's state is refused and the run rolls back to it.
    const next = stateOf(2);
    const weighted = losses.validate?.(next.weights) as number;
    await states.save(0, 'h0', next);
    await commit(record(0, 'h0', weighted));
    const refused = stateOf(3);
    losses.validate?.(refused.weights);
    await commit(record(1, 'h0', null));
    const expected = own.map((score) => score?.(next.weights) as number);
    expect(losses.points()).toEqual([{ round: 0, valLoss: expected }]);
    expect(losses.statuses(pool).map((s) => s.valLoss)).toEqual(expected);
    expect(saved).toEqual(['h0']);

    // A restarted relay reads the history back; a line cut short by a crash is passed over.
    await writeFile(file, `${await readFile(file, 'utf8')}{"round":1,"valL`);
    const again = await DatasetLosses.open(config(), data, file, silentLogger);
    expect(again.points()).toEqual([{ round: 0, valLoss: expected }]);
  });

  it('reports each dataset with its share, epoch and tokens handed out', async () => {
    const losses = await DatasetLosses.open(
      config(),
      data,
      join(await mkdtemp(join(tmpdir(), 'l-')), 'f.jsonl'),
      silentLogger,
    );
    const pool = new ShardPool(poolDatasets(data));
    const range = pool.take(100, 100, 0);
    expect(range?.start).toBe(0);
    expect(losses.statuses(pool)).toEqual([
      { dataset: fiction, share: 0.8, epoch: 0, tokens: 100, valLoss: null },
      { dataset: press, share: 0.2, epoch: 0, tokens: 0, valLoss: null },
    ]);
  });
});
