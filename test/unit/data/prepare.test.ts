import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DatasetManifest, SplitName } from '../../../protocol/dataset-manifest.ts';
import { parseManifest } from '../../../protocol/dataset-manifest.ts';
import { decodeTokenShard } from '../../../protocol/token-shard.ts';
import { byteTokenizer } from '../../../protocol/tokenizer.ts';
import { unigramEntropy } from '../../../protocol/unigram-entropy.ts';
import { parseCli } from '../../../relay/cli/prepare.ts';
import { ensurePrepared } from '../../../relay/datasets/ensure-prepared.ts';
import { readManifest } from '../../../relay/datasets/manifest.ts';
import type { PrepareProgress } from '../../../relay/datasets/prepare.ts';
import { prepareDataset } from '../../../relay/datasets/prepare.ts';
import { describeSource, loadDocuments } from '../../../relay/datasets/source.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'potluck-prepare-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** All tokens of a split, shards decoded in manifest order. */
async function splitTokens(outDir: string, manifest: DatasetManifest, split: SplitName): Promise<number[]> {
  const tokens: number[] = [];
  for (const { file } of manifest.splits[split].shards) {
    const decoded = decodeTokenShard(await readFile(join(outDir, file)));
    if (!decoded.ok) throw new Error(decoded.error.message);
    tokens.push(...decoded.shard.tokens);
  }
  return tokens;
}

describe('prepareDataset', () => {
  it('splits one text file by tokens; the shards re-concatenate to the input', async () => {
    const text = 'Potluck trains on bytes.\nNaïve café, 日本語 🍲.\n'.repeat(20);
    const input = join(dir, 'input.txt');
    await writeFile(input, text);
    const source = { kind: 'files', paths: [input] } as const;
    const outDir = join(dir, 'out');
    const manifest = await prepareDataset({
      documents: await loadDocuments(source),
      source: describeSource(source),
      outDir,
      shardTokens: 100,
    });
    const train = await splitTokens(outDir, manifest, 'train');
    const val = await splitTokens(outDir, manifest, 'val');
    expect(byteTokenizer.decode([...train, ...val])).toBe(text);
    const n = byteTokenizer.encode(text).length;
    expect(val.length).toBe(Math.ceil(n / 20));
    expect(manifest.splits.train.shards.length).toBe(Math.ceil(train.length / 100));
    expect(manifest.splits.train.shards.map((s) => s.file).slice(0, 2)).toEqual([
      'train_000.bin',
      'train_001.bin',
    ]);
    expect(manifest.source).toEqual({ kind: 'files', files: [input] });
    expect(manifest.splitRule).toMatch(/^by token/);
    expect(manifest.splits.val.unigramEntropyNats).toBeCloseTo(unigramEntropy(val, 256), 12);
    expect(await readManifest(outDir)).toEqual(manifest);
  });

  it('holds out every 20th document when there are enough, joined by the separator', async () => {
    const documents = Array.from({ length: 45 }, (_, i) => ({ name: `d${i}`, text: `document ${i}\n` }));
    const progress: PrepareProgress[] = [];
    const manifest = await prepareDataset({
      documents,
      source: { kind: 'files', files: [] },
      outDir: dir,
      shardTokens: 64,
      onProgress: (p) => progress.push(p),
    });
    expect(byteTokenizer.decode(await splitTokens(dir, manifest, 'val'))).toBe(
      'document 19\n\ndocument 39\n',
    );
    const trainText = documents
      .filter((_, i) => i % 20 !== 19)
      .map((d) => d.text)
      .join('\n');
    expect(byteTokenizer.decode(await splitTokens(dir, manifest, 'train'))).toBe(trainText);
    expect(manifest.splits.train.documents).toBe(43);
    expect(manifest.splits.val.documents).toBe(2);
    expect(progress.map((p) => p.documentsDone)).toEqual(documents.map((_, i) => i + 1));
    expect(progress.at(-1)?.tokens).toBe(manifest.splits.train.tokens + manifest.splits.val.tokens);
  });

  it('is deterministic and replaces an earlier preparation', async () => {
    const documents = Array.from({ length: 30 }, (_, i) => ({ name: `d${i}`, text: `text ${i * i}\n` }));
    const source = { kind: 'files', files: [] } as const;
    await prepareDataset({ documents, source, outDir: dir, shardTokens: 5 });
    const many = (await readdir(dir)).sort();
    const firstTrain = await readFile(join(dir, 'train_000.bin'));
    await prepareDataset({ documents, source, outDir: dir, shardTokens: 1000 });
    expect((await readdir(dir)).sort()).toEqual(['dataset.json', 'train_000.bin', 'val_000.bin']);
    expect(many.length).toBeGreaterThan(3);
    await prepareDataset({ documents, source, outDir: dir, shardTokens: 5 });
    expect((await readdir(dir)).sort()).toEqual(many);
    expect(await readFile(join(dir, 'train_000.bin'))).toEqual(firstTrain);
  });

  it('refuses an empty source', async () => {
    const source = { kind: 'files', files: [] } as const;
    await expect(prepareDataset({ documents: [], source, outDir: dir })).rejects.toMatchObject({
      code: 'ERR_NO_DOCUMENTS',
    });
    await expect(
      prepareDataset({ documents: [{ name: 'e', text: '' }], source, outDir: dir }),
    ).rejects.toMatchObject({
      code: 'ERR_NO_DOCUMENTS',
    });
  });
});

describe('ensurePrepared', () => {
  it('prepares when the manifest is missing, reuses it after, and refuses another source', async () => {
    const input = join(dir, 'a.txt');
    await writeFile(input, 'hello world\n'.repeat(10));
    const outDir = join(dir, 'data');
    const first = await ensurePrepared(outDir, { kind: 'files', paths: [input] });
    expect(first.prepared).toBe(true);
    const again = await ensurePrepared(outDir, { kind: 'files', paths: [input] });
    expect(again).toEqual({ manifest: first.manifest, prepared: false });
    await expect(ensurePrepared(outDir, { kind: 'brown' })).rejects.toMatchObject({
      code: 'ERR_SOURCE_MISMATCH',
    });
    await rm(join(outDir, 'val_000.bin'));
    await expect(ensurePrepared(outDir, { kind: 'files', paths: [input] })).rejects.toMatchObject({
      code: 'ERR_SHARD_INVALID',
    });
  });

  it('reports a corrupt manifest instead of overwriting it', async () => {
    await writeFile(join(dir, 'dataset.json'), '{ not json');
    await expect(ensurePrepared(dir, { kind: 'brown' })).rejects.toMatchObject({
      code: 'ERR_MANIFEST_INVALID',
    });
  });
});

describe('parseManifest', () => {
  it('refuses shard names that leave the data set directory', async () => {
    await writeFile(join(dir, 'a.txt'), 'some text\n');
    const { manifest } = await ensurePrepared(join(dir, 'd'), { kind: 'files', paths: [join(dir, 'a.txt')] });
    expect(parseManifest(JSON.parse(JSON.stringify(manifest))).ok).toBe(true);
    const evil = JSON.parse(JSON.stringify(manifest));
    evil.splits.train.shards[0].file = '../../etc/passwd';
    const parsed = parseManifest(evil);
    expect(parsed.ok || parsed.error.code).toBe('ERR_MANIFEST_INVALID');
    for (const junk of [null, 3, [], { format: 'potluck-dataset', version: 2 }])
      expect(parseManifest(junk).ok).toBe(false);
  });
});

describe('prepare CLI arguments', () => {
  it('defaults to the Brown Corpus in state/data/brown and 10M-token shards', () => {
    const options = parseCli([]);
    expect(options?.source).toEqual({ kind: 'brown' });
    expect(options?.outDir).toMatch(/state[/\\]data[/\\]brown$/);
    expect(options?.shardTokens).toBe(10_000_000);
  });

  it('takes files, --out and --shard-tokens, and --help', () => {
    expect(parseCli(['--out', 'x', '--shard-tokens', '500', 'a.txt', 'b.txt'])).toEqual({
      source: { kind: 'files', paths: ['a.txt', 'b.txt'] },
      outDir: 'x',
      shardTokens: 500,
    });
    expect(parseCli(['--help'])).toBeNull();
    expect(() => parseCli(['--shard-tokens', '0'])).toThrow(RangeError);
    expect(() => parseCli(['--bogus'])).toThrow();
  });
});
