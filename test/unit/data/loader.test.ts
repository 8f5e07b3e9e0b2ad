import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetManifest } from '../../../protocol/dataset-manifest.ts';
import { createRng } from '../../../protocol/rng.ts';
import { decodeTokenShard } from '../../../protocol/token-shard.ts';
import { sequentialWindowCount, WindowIndex } from '../../../protocol/token-windows.ts';
import { loadSplitTokens, openSplit } from '../../../relay/datasets/loader.ts';
import { prepareDataset } from '../../../relay/datasets/prepare.ts';
import { decodeRawTokens, readRawTokens } from '../../../relay/datasets/raw-tokens.ts';

let dir: string;
let manifest: DatasetManifest;
/** Each train shard's tokens, decoded independently of the loader. */
let trainShards: number[][];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'potluck-loader-'));
  const documents = Array.from({ length: 40 }, (_, i) => ({
    name: `d${i}`,
    text: `Document ${i}: ${'abcdefghijklmnopqrstuvwxyz'.slice(i % 26)} ${i * 7919}\n`,
  }));
  manifest = await prepareDataset({
    documents,
    source: { kind: 'files', files: [] },
    outDir: dir,
    shardTokens: 97,
  });
  trainShards = [];
  for (const { file } of manifest.splits.train.shards) {
    const decoded = decodeTokenShard(await readFile(join(dir, file)));
    if (!decoded.ok) throw new Error(decoded.error.message);
    trainShards.push([...decoded.shard.tokens]);
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Whether `window` occurs contiguously inside one shard. */
function inOneShard(window: number[]): boolean {
  return trainShards.some((shard) => {
    for (let s = 0; s + window.length <= shard.length; s++) {
      if (window.every((t, i) => shard[s + i] === t)) return true;
    }
    return false;
  });
}

describe('SplitLoader.sampleBatch', () => {
  it('returns (B, T) windows from inside one shard, targets = inputs shifted by one', async () => {
    const loader = await openSplit(dir, 'train');
    expect(trainShards.length).toBeGreaterThan(2);
    const [B, T] = [6, 16];
    const batch = loader.sampleBatch(B, T, createRng(1));
    expect(batch.inputs).toHaveLength(B * T);
    expect(batch.targets).toHaveLength(B * T);
    for (let b = 0; b < B; b++) {
      const inputs = [...batch.inputs.subarray(b * T, (b + 1) * T)];
      const targets = [...batch.targets.subarray(b * T, (b + 1) * T)];
      expect(targets.slice(0, -1)).toEqual(inputs.slice(1));
      expect(inOneShard([...inputs, targets.at(-1) as number])).toBe(true);
    }
    loader.close();
    loader.close(); // safe twice
  });

  it('is deterministic for a seed and varies across seeds', async () => {
    const loader = await openSplit(dir, 'train');
    const a = loader.sampleBatch(4, 8, createRng(42));
    const b = loader.sampleBatch(4, 8, createRng(42));
    const c = loader.sampleBatch(4, 8, createRng(43));
    expect(a).toEqual(b);
    expect(a.inputs).not.toEqual(c.inputs);
    loader.close();
  });

  it('refuses windows longer than any shard', async () => {
    const loader = await openSplit(dir, 'train');
    expect(() => loader.sampleBatch(1, 97, createRng(1))).toThrow(/ERR_SPLIT_TOO_SHORT/);
    loader.close();
  });
});

describe('WindowIndex', () => {
  it('numbers every valid start across shards exactly once', () => {
    const index = new WindowIndex([5, 2, 10], 4); // 2 + 0 + 7 windows
    expect(index.count).toBe(9);
    const starts = Array.from({ length: index.count }, (_, i) => index.locate(i));
    expect(starts).toEqual([
      { shard: 0, offset: 0 },
      { shard: 0, offset: 1 },
      ...Array.from({ length: 7 }, (_, offset) => ({ shard: 2, offset })),
    ]);
    expect(() => index.locate(9)).toThrow(RangeError);
  });
});

describe('SplitLoader.evalBatches', () => {
  it('yields non-overlapping windows in order, covering the split', async () => {
    const loader = await openSplit(dir, 'train');
    const [B, T] = [3, 10];
    const batches = [...loader.evalBatches(B, T)];
    expect(batches).toHaveLength(loader.evalBatchCount(B, T));
    expect(batches.length).toBe(
      Math.floor(
        sequentialWindowCount(
          manifest.splits.train.shards.map((s) => s.tokens),
          T,
        ) / B,
      ),
    );
    const firstShard = trainShards[0] as number[];
    const first = batches[0];
    expect([...(first?.inputs.subarray(0, T) ?? [])]).toEqual(firstShard.slice(0, T));
    expect([...(first?.inputs.subarray(T, 2 * T) ?? [])]).toEqual(firstShard.slice(T, 2 * T));
    expect([...(first?.targets.subarray(0, T) ?? [])]).toEqual(firstShard.slice(1, T + 1));
    expect([...loader.evalBatches(B, T)]).toEqual(batches); // same every pass
    loader.close();
  });
});

describe('loadSplitTokens', () => {
  it('concatenates the shards of a split', async () => {
    const tokens = await loadSplitTokens(dir, 'train');
    expect([...tokens]).toEqual(trainShards.flat());
    expect(tokens.length).toBe(manifest.splits.train.tokens);
  });
});

describe('corrupt shards', () => {
  it('are refused when the split is opened', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'potluck-corrupt-'));
    try {
      await prepareDataset({
        documents: [{ name: 'x', text: 'some text to cut short\n'.repeat(5) }],
        source: { kind: 'files', files: [] },
        outDir: copy,
      });
      await truncate(join(copy, 'train_000.bin'), 40);
      await expect(openSplit(copy, 'train')).rejects.toMatchObject({ code: 'ERR_SHARD_INVALID' });
      await expect(loadSplitTokens(copy, 'train')).rejects.toMatchObject({ code: 'ERR_SHARD_INVALID' });
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});

describe('raw token files', () => {
  it('reads little-endian uint16 ids', async () => {
    const path = join(dir, 'raw.bin');
    await writeFile(path, Uint8Array.of(1, 0, 0xff, 0, 0x34, 0x12));
    expect([...(await readRawTokens(path))]).toEqual([1, 255, 0x1234]);
    await expect(readRawTokens(path, 256)).rejects.toMatchObject({ code: 'ERR_RAW_TOKENS_INVALID' });
  });

  it('refuses an odd byte count without throwing from the decoder', () => {
    const result = decodeRawTokens(Uint8Array.of(1, 2, 3));
    expect(result.ok || result.error.code).toBe('ERR_RAW_TOKENS_ODD_LENGTH');
  });
});
