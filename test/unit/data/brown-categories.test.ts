import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCli } from '../../../relay/cli/prepare.ts';
import { listBrownFiles, readBrownCorpus } from '../../../relay/datasets/brown.ts';
import { brownCategoryLetters, MAX_BROWN_CATEGORIES } from '../../../relay/datasets/brown-categories.ts';
import { ensurePrepared } from '../../../relay/datasets/ensure-prepared.ts';
import { DatasetError } from '../../../relay/datasets/errors.ts';
import { describeSource, sameSource } from '../../../relay/datasets/source.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'potluck-brown-categories-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetError);
    return `${(error as DatasetError).code}|${(error as Error).message}`;
  }
  throw new Error('expected a refusal');
}

describe('Brown Corpus categories', () => {
  it('selects genres by letter or by cats.txt name, the same files either way', () => {
    const files = listBrownFiles();
    expect(brownCategoryLetters(files, ['news', 'learned'])).toEqual(['a', 'j']);
    expect(brownCategoryLetters(files, ['j', 'A', 'a'])).toEqual(['a', 'j']);
    const fiction = readBrownCorpus(undefined, ['k']);
    // cats.txt: 29 files of general fiction, ck01 .. ck29.
    expect(fiction).toHaveLength(29);
    expect(fiction.every((d) => d.name.startsWith('brown/ck'))).toBe(true);
    expect(readBrownCorpus(undefined, ['fiction']).map((d) => d.name)).toEqual(fiction.map((d) => d.name));
  });

  it('refuses a genre the corpus lacks, an empty selection and too many names', () => {
    const files = listBrownFiles();
    expect(refusal(() => brownCategoryLetters(files, ['poetry']))).toMatch(
      /^ERR_BROWN_CATEGORY\|ERR_BROWN_CATEGORY: no Brown category "poetry"; there are a \(news\), .*k \(fiction\)/,
    );
    expect(refusal(() => brownCategoryLetters(files, ['z']))).toMatch(/^ERR_BROWN_CATEGORY/);
    expect(refusal(() => brownCategoryLetters(files, []))).toMatch(/^ERR_BROWN_CATEGORY/);
    const many = Array.from({ length: MAX_BROWN_CATEGORIES + 1 }, () => 'a');
    expect(refusal(() => brownCategoryLetters(files, many))).toMatch(/^ERR_BROWN_CATEGORY\|.*name 1 to 32/);
  });

  it('records the genres in the manifest, and a subset is another source than the whole', async () => {
    const source = { kind: 'brown' as const, categories: ['humor'] };
    const { manifest } = await ensurePrepared(dir, source, { shardTokens: 1_000_000 });
    expect(manifest.source).toMatchObject({ kind: 'brown', categories: ['r'] });
    // cats.txt has 9 humor files, fewer than 20: the split is by tokens, the last 5% held out.
    expect(manifest.splits.train.documents).toBe(9);
    expect(manifest.splitRule).toMatch(/^by token/);
    expect(sameSource(manifest.source, { kind: 'brown', categories: ['r'] })).toBe(true);
    expect(sameSource(manifest.source, { kind: 'brown' })).toBe(false);
    expect(sameSource(manifest.source, { kind: 'brown', categories: ['r', 'k'] })).toBe(false);
    expect(sameSource(describeSource({ kind: 'brown' }), { kind: 'brown' })).toBe(true);
    await expect(ensurePrepared(dir, { kind: 'brown' })).rejects.toMatchObject({
      code: 'ERR_SOURCE_MISMATCH',
    });
  });

  it('takes --brown-categories on the command line, with its own default folder', () => {
    const options = parseCli(['--brown-categories', 'a,j']);
    expect(options?.source).toEqual({ kind: 'brown', categories: ['a', 'j'] });
    expect(options?.outDir).toMatch(/state\/data\/brown-a-j$/);
    expect(parseCli(['--brown-categories', 'k', '--out', dir])?.outDir).toBe(dir);
    expect(() => parseCli(['--brown-categories', 'k', 'notes.txt'])).toThrow(/not both/);
    expect(() => parseCli(['--brown-categories', ','])).toThrow(/at least one/);
  });
});
