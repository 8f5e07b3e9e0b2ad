// dataset.json: the index of a prepared data set. It names the tokenizer, the source and the
// split rule, and lists each split's shard files with their token counts, so readers find
// everything from this one file and can check the shards against it. It is written last
// (and atomically), so a directory with a manifest is a complete data set.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from './errors.ts';
import type { SourceRecord } from './source.ts';

export const MANIFEST_FILE = 'dataset.json';
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

export interface ShardEntry {
  readonly file: string;
  readonly tokens: number;
}

export interface SplitManifest {
  readonly documents: number;
  readonly tokens: number;
  readonly shards: readonly ShardEntry[];
  /** Unigram entropy of the split's tokens in nats: the loss of a context-free model. */
  readonly unigramEntropyNats: number;
}

export interface DatasetManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: typeof MANIFEST_VERSION;
  readonly tokenizer: string;
  readonly vocabSize: number;
  readonly source: SourceRecord;
  /** The split rule in words, for people reading the file. */
  readonly splitRule: string;
  /** Text put between consecutive documents of a split before tokenizing. */
  readonly documentSeparator: string;
  readonly shardTokens: number;
  readonly splits: Readonly<Record<SplitName, SplitManifest>>;
}

export type ManifestParse =
  | { readonly ok: true; readonly manifest: DatasetManifest }
  | {
      readonly ok: false;
      readonly error: { readonly code: 'ERR_MANIFEST_INVALID'; readonly message: string };
    };

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function checkSource(v: unknown): string | null {
  if (!isObject(v)) return 'source must be an object';
  if (v.kind === 'brown') return typeof v.package === 'string' ? null : 'source.package must be a string';
  if (v.kind === 'files') {
    const ok = Array.isArray(v.files) && v.files.every((f) => typeof f === 'string');
    return ok ? null : 'source.files must be a list of paths';
  }
  return 'source.kind must be "brown" or "files"';
}

function checkSplit(name: SplitName, v: unknown): string | null {
  if (!isObject(v)) return `splits.${name} must be an object`;
  if (!isCount(v.documents) || !isCount(v.tokens)) return `splits.${name} needs document and token counts`;
  if (typeof v.unigramEntropyNats !== 'number' || !(v.unigramEntropyNats >= 0)) {
    return `splits.${name}.unigramEntropyNats must be a non-negative number`;
  }
  if (!Array.isArray(v.shards)) return `splits.${name}.shards must be a list`;
  let sum = 0;
  for (const shard of v.shards) {
    if (!isObject(shard) || typeof shard.file !== 'string' || !isCount(shard.tokens)) {
      return `splits.${name}.shards entries need a file and a token count`;
    }
    if (!SHARD_FILE_NAME.test(shard.file) || !shard.file.startsWith(`${name}_`)) {
      return `splits.${name} lists a shard named "${shard.file}", not ${name}_NNN.bin`;
    }
    sum += shard.tokens;
  }
  return sum === v.tokens ? null : `splits.${name}.tokens is ${v.tokens} but its shards hold ${sum}`;
}

/** Checks parsed JSON against the manifest shape. Never throws. */
export function parseManifest(json: unknown): ManifestParse {
  const fail = (message: string): ManifestParse => ({
    ok: false,
    error: { code: 'ERR_MANIFEST_INVALID', message },
  });
  if (!isObject(json)) return fail('manifest must be a JSON object');
  if (json.format !== MANIFEST_FORMAT) return fail(`format must be "${MANIFEST_FORMAT}"`);
  if (json.version !== MANIFEST_VERSION)
    return fail(`version ${String(json.version)}, expected ${MANIFEST_VERSION}`);
  if (typeof json.tokenizer !== 'string') return fail('tokenizer must be a name');
  if (!isCount(json.vocabSize) || json.vocabSize === 0) return fail('vocabSize must be a positive integer');
  if (typeof json.splitRule !== 'string' || typeof json.documentSeparator !== 'string') {
    return fail('splitRule and documentSeparator must be strings');
  }
  if (!isCount(json.shardTokens) || json.shardTokens === 0)
    return fail('shardTokens must be a positive integer');
  const problem = checkSource(json.source) ?? (isObject(json.splits) ? null : 'splits must be an object');
  if (problem) return fail(problem);
  for (const name of SPLITS) {
    const splitProblem = checkSplit(name, (json.splits as Json)[name]);
    if (splitProblem) return fail(splitProblem);
  }
  return { ok: true, manifest: json as unknown as DatasetManifest };
}

/** Reads and checks `dir/dataset.json`; throws DatasetError (MISSING or INVALID). */
export async function readManifest(dir: string): Promise<DatasetManifest> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DatasetError('ERR_MANIFEST_MISSING', `no ${MANIFEST_FILE} in ${dir}`, { cause });
    }
    throw cause;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new DatasetError('ERR_MANIFEST_INVALID', `${path} is not JSON`, { cause });
  }
  const parsed = parseManifest(json);
  if (!parsed.ok) throw new DatasetError('ERR_MANIFEST_INVALID', `${path}: ${parsed.error.message}`);
  return parsed.manifest;
}

/** Writes the manifest through a temporary file and a rename, so readers never see half. */
export async function writeManifest(dir: string, manifest: DatasetManifest): Promise<void> {
  const path = join(dir, MANIFEST_FILE);
  await writeFile(`${path}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}
