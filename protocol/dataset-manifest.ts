// dataset.json: the index of a prepared data set. It names the tokenizer, the source and the
// split rule, and lists each split's shard files with their token counts, so readers find
// everything from this one file and can check the shards against it. The relay reads it from
// disk (relay/datasets/manifest.ts) and serves it at `/api/runs/:id/dataset`; volunteers read
// it there to turn a token range into byte ranges of shard files. One schema for both.

import * as v from 'valibot';
import { DatasetNameSchema, MAX_MIXTURE_DATASETS } from './data-mixture.ts';
import { MAX_GPT_DIMENSIONS } from './gpt-config.ts';
import { firstIssue } from './schema-issue.ts';

export const MANIFEST_FORMAT = 'potluck-dataset';
export const MANIFEST_VERSION = 1;

export type SplitName = 'train' | 'val';
export const SPLITS: readonly SplitName[] = ['train', 'val'];

/**
 * Shard files are only ever `<split>_<index>.bin` inside the data set directory: a manifest
 * that names anything else (`../x`, an absolute path) is refused, not followed.
 */
const SHARD_FILE_NAME = /^(train|val)_\d{3,}\.bin$/;

export function isShardFileName(name: string): boolean {
  return SHARD_FILE_NAME.test(name);
}

const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const PositiveCount = v.pipe(Count, v.minValue(1));

/** The source as the manifest records it: resolved paths, the package version. */
export const SourceRecordSchema = v.variant(
  'kind',
  [
    v.object({
      kind: v.literal('brown'),
      package: v.string(),
      /** Present when only some genres were prepared: their letters, sorted (a-r). */
      categories: v.optional(v.pipe(v.array(v.pipe(v.string(), v.regex(/^[a-r]$/))), v.maxLength(18))),
    }),
    v.object({ kind: v.literal('files'), files: v.pipe(v.array(v.string()), v.readonly()) }),
    /** A run's mixture as the relay serves it: these datasets' shards, end to end (data-mixture.ts). */
    v.object({
      kind: v.literal('mixture'),
      datasets: v.pipe(v.array(DatasetNameSchema), v.maxLength(MAX_MIXTURE_DATASETS), v.readonly()),
    }),
  ],
  'source.kind must be "brown", "files" or "mixture"',
);
export type SourceRecord = v.InferOutput<typeof SourceRecordSchema>;

function splitSchema(name: SplitName) {
  const shard = v.object({
    file: v.pipe(
      v.string(),
      v.check(
        (file) => isShardFileName(file) && file.startsWith(`${name}_`),
        (issue) => `splits.${name} lists a shard named "${String(issue.input)}", not ${name}_NNN.bin`,
      ),
    ),
    tokens: Count,
  });
  return v.pipe(
    v.object({
      documents: Count,
      tokens: Count,
      shards: v.pipe(v.array(v.pipe(shard, v.readonly())), v.readonly()),
      /** Unigram entropy of the split's tokens in nats: the loss of a context-free model. */
      unigramEntropyNats: v.pipe(v.number(), v.minValue(0)),
    }),
    v.check(
      (split) => new Set(split.shards.map((shard) => shard.file)).size === split.shards.length,
      `splits.${name} lists a shard file twice`,
    ),
    v.check(
      (split) => split.shards.reduce((sum, shard) => sum + shard.tokens, 0) === split.tokens,
      (issue) => {
        const split = issue.input as { tokens: number; shards: readonly { tokens: number }[] };
        const held = split.shards.reduce((sum, shard) => sum + shard.tokens, 0);
        return `splits.${name}.tokens is ${split.tokens} but its shards hold ${held}`;
      },
    ),
    v.readonly(),
  );
}

export const DatasetManifestSchema = v.pipe(
  v.object({
    format: v.literal(MANIFEST_FORMAT, `format must be "${MANIFEST_FORMAT}"`),
    version: v.literal(
      MANIFEST_VERSION,
      (issue) => `version ${String(issue.input)}, expected ${MANIFEST_VERSION}`,
    ),
    tokenizer: v.string(),
    /** A vocabulary a model can have (gpt-config.ts): token ids are read into u32 on the GPU. */
    vocabSize: v.pipe(PositiveCount, v.maxValue(MAX_GPT_DIMENSIONS.vocabSize)),
    source: SourceRecordSchema,
    /** The split rule in words, for people reading the file. */
    splitRule: v.string(),
    /** Text put between consecutive documents of a split before tokenizing. */
    documentSeparator: v.string(),
    shardTokens: PositiveCount,
    splits: v.pipe(v.object({ train: splitSchema('train'), val: splitSchema('val') }), v.readonly()),
  }),
  // Shards are cut at shardTokens; a bigger one is not one this format writes.
  v.check(
    (m) => [...m.splits.train.shards, ...m.splits.val.shards].every((shard) => shard.tokens <= m.shardTokens),
    'a shard holds more than shardTokens tokens',
  ),
  v.readonly(),
);
export type DatasetManifest = v.InferOutput<typeof DatasetManifestSchema>;
export type SplitManifest = DatasetManifest['splits'][SplitName];
export type ShardEntry = SplitManifest['shards'][number];

export type ManifestParse =
  | { readonly ok: true; readonly manifest: DatasetManifest }
  | {
      readonly ok: false;
      readonly error: { readonly code: 'ERR_MANIFEST_INVALID'; readonly message: string };
    };

/** Checks parsed JSON against the manifest schema. Never throws. */
export function parseManifest(json: unknown): ManifestParse {
  const parsed = v.safeParse(DatasetManifestSchema, json);
  if (parsed.success) return { ok: true, manifest: parsed.output };
  // This schema's own messages name their field already; valibot's do not.
  const { path, message } = firstIssue(parsed.issues);
  const text = path && !message.startsWith(path) ? `${path}: ${message}` : message;
  return { ok: false, error: { code: 'ERR_MANIFEST_INVALID', message: text } };
}
