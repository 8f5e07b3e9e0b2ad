// A run on a mixture (protocol/data-mixture.ts) through a real relay on loopback: the relay hands
// out ranges of each dataset by its share, serves the mixture's shards end to end so a volunteer
// reads any range as it reads a single dataset's, and scores every committed state on each
// dataset's held-out sequences, reported in /api/runs/:id beside the weighted loss the guard and
// the loss curve use.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mixtureSpans, spanOf } from '../../../protocol/data-mixture.ts';
import { parseManifest } from '../../../protocol/dataset-manifest.ts';
import { parseHttpBody } from '../../../protocol/http-body.ts';
import { RunDetailBody } from '../../../protocol/run-api.ts';
import { readBrownCorpus } from '../../../relay/datasets/brown.ts';
import { loadSplitTokens } from '../../../relay/datasets/loader.ts';
import { readManifest } from '../../../relay/datasets/manifest.ts';
import { prepareDataset } from '../../../relay/datasets/prepare.ts';
import { validationLoss } from '../../../relay/rounds/validation-loss.ts';
import type { RelayHandle } from '../../../relay/server.ts';
import { RelayApi } from '../../../web/src/peer/relay-api.ts';
import { type ScriptedVolunteer, startScriptedVolunteer } from '../../helpers/scripted-volunteer.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';

let fresh = '';
let replay = '';
let relay: RelayHandle;
const volunteers: ScriptedVolunteer[] = [];

beforeAll(async () => {
  fresh = await smallDataset();
  // Another genre for the replay: documents of the learned prose (cj..), not the news (ca..).
  replay = await mkdtemp(join(tmpdir(), 'potluck-replay-'));
  const learned = readBrownCorpus(undefined, ['j']).slice(0, 6);
  await prepareDataset({
    documents: learned,
    source: { kind: 'files', files: ['learned'] },
    outDir: replay,
    valEvery: 3,
  });
  relay = await startTestRelay(fresh, {
    overrides: {
      dataset: [
        { dataset: fresh, weight: 3 },
        { dataset: replay, weight: 1 },
      ],
      guard: { validationSequences: 2 },
    },
  });
});

afterAll(async () => {
  for (const v of volunteers) v.close();
  await relay?.close();
});

async function detail(): Promise<RunDetailBody> {
  const response = await relay.app.request(`/api/runs/${relay.run.id}`);
  const parsed = parseHttpBody(RunDetailBody, await response.json());
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

describe('a run on a mixture', () => {
  it('serves the datasets end to end: a volunteer reads a range of the replay as its own tokens', async () => {
    const [a, b] = [await readManifest(fresh), await readManifest(replay)];
    const served = parseManifest(await (await relay.app.request(`/api/runs/${relay.run.id}/dataset`)).json());
    if (!served.ok) throw new Error(served.error.message);
    const { manifest } = served;
    expect(manifest.source).toEqual({ kind: 'mixture', datasets: [fresh, replay] });
    expect(manifest.splits.train.tokens).toBe(a.splits.train.tokens + b.splits.train.tokens);
    expect(manifest.splits.train.shards.map((s) => s.tokens)).toEqual(
      [...a.splits.train.shards, ...b.splits.train.shards].map((s) => s.tokens),
    );
    const n = a.splits.train.shards.length; // the replay's first shard
    const bytes = new Uint8Array(
      await (await relay.app.request(`/api/runs/${relay.run.id}/shards/${n}`)).arrayBuffer(),
    );
    expect(bytes).toEqual(
      new Uint8Array(await readFile(join(replay, b.splits.train.shards[0]?.file as string))),
    );
    expect(
      (await relay.app.request(`/api/runs/${relay.run.id}/shards/${n + b.splits.train.shards.length}`))
        .status,
    ).toBe(404);
    // The volunteer's own reader, over HTTP: a range of the replay's span is the replay's tokens.
    const api = new RelayApi(relay.url.replace(/^ws/, 'http'), relay.run.id);
    const start = a.splits.train.tokens + 100;
    const read = await api.tokens({ start, end: start + 500 });
    expect(read).toEqual((await loadSplitTokens(replay, 'train')).subarray(100, 600));
  });

  it('hands out the new data and the replay 3:1, each range inside one dataset', async () => {
    const alice = await startScriptedVolunteer(relay.url, 'alice');
    volunteers.push(alice);
    await alice.commits(4);
    const spans = mixtureSpans([
      (await readManifest(fresh)).splits.train.tokens,
      (await readManifest(replay)).splits.train.tokens,
    ]);
    const ranges = alice.messages.flatMap((m) => (m.type === 'assignment' ? [m.shard] : []));
    const which = ranges.map((r) => spanOf(spans, r.start, r.end));
    expect(which.every((d) => d >= 0)).toBe(true);
    // Equal ranges: three of the new data, then the replay, whose share it is behind by then.
    expect(which.slice(0, 4)).toEqual([0, 0, 0, 1]);
  });

  it('reports each dataset with its share, epoch and loss, and every round scored on each', async () => {
    const body = await detail();
    expect(body.datasets.map((d) => [d.dataset, d.share])).toEqual([
      [fresh, 0.75],
      [replay, 0.25],
    ]);
    expect(body.datasets.every((d) => d.tokens > 0 && d.valLoss !== null)).toBe(true);
    expect(body.datasetLoss.length).toBeGreaterThanOrEqual(3);
    // The loss curve is the mixture's weighted loss of the same states.
    for (const point of body.datasetLoss) {
      const [lossA, lossB] = point.valLoss as [number, number];
      const curve = body.loss.find((p) => p.round === point.round);
      expect(curve?.trainLoss).toBeCloseTo(0.75 * lossA + 0.25 * lossB, 12);
    }
    // The newest figure is the committed state's loss on each dataset's own held-out sequences.
    const { modelHash } = relay.run.coordinator.lastCommitted;
    const state = await relay.run.checkpoints.load(modelHash);
    if (!state) throw new Error('no committed state');
    const config = relay.run.config;
    const expected = [
      validationLoss(config, await loadSplitTokens(fresh, 'val'))?.(state.weights),
      validationLoss(config, await loadSplitTokens(replay, 'val'))?.(state.weights),
    ];
    expect(body.datasets.map((d) => d.valLoss)).toEqual(expected);
    expect(body.datasetLoss.at(-1)?.valLoss).toEqual(expected);
    expect(expected[0]).not.toBe(expected[1]);
  });
});
