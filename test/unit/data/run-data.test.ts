// A run's data opened (relay/datasets/run-data.ts): a mixture's served manifest is its datasets'
// shards end to end with the split's true unigram entropy, shard numbers lead to each dataset's
// files, and datasets that cannot share a run are refused with a typed error.
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { countTokens, entropyFromCounts } from '../../../protocol/unigram-entropy.ts';
import { readBrownCorpus } from '../../../relay/datasets/brown.ts';
import { loadSplitTokens } from '../../../relay/datasets/loader.ts';
import { prepareDataset } from '../../../relay/datasets/prepare.ts';
import { fewestRangeTokens, loadRunSplit, openRunData, shardFile } from '../../../relay/datasets/run-data.ts';
import { silentLogger } from '../../../relay/logger.ts';
import { fastRun, SCRIPTED_MODEL } from '../../helpers/test-relay.ts';

let a = '';
let b = '';
beforeAll(async () => {
  const prepare = async (letter: string) => {
    const dir = await mkdtemp(join(tmpdir(), `potluck-run-data-${letter}-`));
    const documents = readBrownCorpus(undefined, [letter]).slice(0, 6);
    await prepareDataset({
      documents,
      source: { kind: 'files', files: [letter] },
      outDir: dir,
      valEvery: 3,
      shardTokens: 20_000,
    });
    return dir;
  };
  [a, b] = [await prepare('k'), await prepare('a')];
});

describe('openRunData', () => {
  it('serves a single dataset as it is', async () => {
    const data = await openRunData(a, tmpdir(), silentLogger);
    expect(data.parts).toHaveLength(1);
    expect(data.manifest).toEqual(JSON.parse(await readFile(join(a, 'dataset.json'), 'utf8')));
    expect(shardFile(data, 'train', 0)).toBe(join(a, 'train_000.bin'));
  });

  it("lays a mixture's shards end to end, with the entropy of all its tokens", async () => {
    const data = await openRunData(
      [
        { dataset: a, weight: 1 },
        { dataset: b, weight: 1 },
      ],
      tmpdir(),
      silentLogger,
    );
    const [first, second] = data.parts.map((p) => p.manifest);
    if (!first || !second) throw new Error('two parts');
    const n = first.splits.train.shards.length;
    expect(n).toBeGreaterThan(1); // 20,000-token shards: the numbering is really shifted
    expect(data.manifest.splits.train.shards.map((s) => s.file)).toEqual(
      [...first.splits.train.shards, ...second.splits.train.shards].map(
        (_, i) => `train_${String(i).padStart(3, '0')}.bin`,
      ),
    );
    expect(shardFile(data, 'train', n)).toBe(join(b, 'train_000.bin'));
    expect(shardFile(data, 'val', first.splits.val.shards.length)).toBe(join(b, 'val_000.bin'));
    expect(shardFile(data, 'train', n + second.splits.train.shards.length)).toBeNull();
    const all = await loadRunSplit(data, 'train');
    expect(all.length).toBe(data.manifest.splits.train.tokens);
    expect(all.subarray(first.splits.train.tokens)).toEqual(await loadSplitTokens(b, 'train'));
    expect(data.manifest.splits.train.unigramEntropyNats).toBeCloseTo(
      entropyFromCounts(countTokens(all, 256)),
      12,
    );
    expect(data.parts.map((p) => p.span)).toEqual([
      { start: 0, end: first.splits.train.tokens },
      { start: first.splits.train.tokens, end: first.splits.train.tokens + second.splits.train.tokens },
    ]);
  });

  it('refuses a dataset of a mixture too small for one range of the run', async () => {
    const run = fastRun(a);
    const fewest = fewestRangeTokens(run);
    expect(fewest).toBe(run.inner.batchSize * run.inner.seqLen + 1);
    const pipeline = fastRun(a, {
      model: { ...SCRIPTED_MODEL, nLayer: 2 },
      pipeline: { microbatches: 2, microbatchSize: 3 },
    });
    expect(fewestRangeTokens(pipeline)).toBe(6 * pipeline.inner.seqLen + 1);
    const train = async (dir: string) =>
      (await openRunData(dir, tmpdir(), silentLogger)).manifest.splits.train.tokens;
    const smallest = Math.min(await train(a), await train(b));
    const mixture = [
      { dataset: a, weight: 1 },
      { dataset: b, weight: 1 },
    ];
    await expect(openRunData(mixture, tmpdir(), silentLogger, smallest + 1)).rejects.toMatchObject({
      code: 'ERR_SPLIT_TOO_SHORT',
    });
    expect((await openRunData(mixture, tmpdir(), silentLogger, smallest)).parts).toHaveLength(2);
  });

  it('refuses one folder named twice, and datasets tokenized apart', async () => {
    await expect(
      openRunData(
        [
          { dataset: a, weight: 1 },
          { dataset: `${a}/`, weight: 1 },
        ],
        tmpdir(),
        silentLogger,
      ),
    ).rejects.toMatchObject({ code: 'ERR_MIXTURE_MISMATCH' });
    const other = await mkdtemp(join(tmpdir(), 'potluck-run-data-sep-'));
    await cp(b, other, { recursive: true });
    const manifest = JSON.parse(await readFile(join(other, 'dataset.json'), 'utf8'));
    await writeFile(
      join(other, 'dataset.json'),
      JSON.stringify({ ...manifest, documentSeparator: '\n\n\n' }),
    );
    await expect(
      openRunData(
        [
          { dataset: a, weight: 1 },
          { dataset: other, weight: 1 },
        ],
        tmpdir(),
        silentLogger,
      ),
    ).rejects.toMatchObject({ code: 'ERR_MIXTURE_MISMATCH' });
  });
});
