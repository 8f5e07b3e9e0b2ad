// Prepare once, reuse after: what `npm run train` calls before its first step, so the first
// run tokenizes the corpus and later runs start at once.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DatasetManifest } from '../../protocol/dataset-manifest.ts';
import { SPLITS } from '../../protocol/dataset-manifest.ts';
import { DatasetError } from './errors.ts';
import { readManifest } from './manifest.ts';
import type { PrepareProgress } from './prepare.ts';
import { prepareDataset } from './prepare.ts';
import type { DatasetSource } from './source.ts';
import { describeSource, loadDocuments, sameSource } from './source.ts';

/** Where the Brown Corpus is prepared by default: state/ at the repository root (gitignored). */
export const DEFAULT_BROWN_DIR = fileURLToPath(new URL('../../state/data/brown', import.meta.url));
/** Where `npm run prepare-data -- FILE...` writes your own files' data set by default. */
export const DEFAULT_FILES_DIR = fileURLToPath(new URL('../../state/data/custom', import.meta.url));

export interface EnsurePreparedOptions {
  readonly shardTokens?: number; // used only when preparing
  readonly onProgress?: (progress: PrepareProgress) => void;
}

export interface EnsurePreparedResult {
  readonly manifest: DatasetManifest;
  /** True when this call prepared the data set, false when it reused one. */
  readonly prepared: boolean;
}

/**
 * Returns `dir`'s data set, preparing it from `source` first when it has no manifest.
 * Throws DatasetError when a manifest is there but unreadable (ERR_MANIFEST_INVALID), was
 * prepared from another source (ERR_SOURCE_MISMATCH), or lists shard files that are missing
 * (ERR_SHARD_INVALID): those need a person to choose, so nothing is overwritten.
 */
export async function ensurePrepared(
  dir: string,
  source: DatasetSource,
  options: EnsurePreparedOptions = {},
): Promise<EnsurePreparedResult> {
  let manifest: DatasetManifest;
  try {
    manifest = await readManifest(dir);
  } catch (error) {
    if (!(error instanceof DatasetError && error.code === 'ERR_MANIFEST_MISSING')) throw error;
    const documents = await loadDocuments(source);
    const prepared = await prepareDataset({
      ...options,
      documents,
      source: describeSource(source),
      outDir: dir,
    });
    return { manifest: prepared, prepared: true };
  }
  if (!sameSource(manifest.source, source)) {
    throw new DatasetError(
      'ERR_SOURCE_MISMATCH',
      `${dir} holds data prepared from ${JSON.stringify(manifest.source)}; ` +
        'pass that source, another directory, or re-run `npm run prepare-data` to replace it',
    );
  }
  for (const split of SPLITS) {
    for (const { file } of manifest.splits[split].shards) {
      const found = await stat(join(dir, file)).catch(() => null);
      if (!found?.isFile()) throw new DatasetError('ERR_SHARD_INVALID', `${dir}: ${file} is missing`);
    }
  }
  return { manifest, prepared: false };
}
