// A subset of the Brown Corpus by genre, so two distributions of one corpus can be prepared
// apart (issue 18: train on press and learned prose, then continue on fiction with a replay of
// the first). A genre is named by its letter in the file names (`a` for ca01 .. ca44) or by
// its name in cats.txt (`news`); the two spellings of one genre select the same files.
import type { BrownFile } from './brown.ts';
import { DatasetError } from './errors.ts';

/** Genre letters as the file names carry them: `c`, the letter, two digits. */
const GENRE_LETTER = /^[a-r]$/;
/** More names than the corpus has genres (15) is a mistake, not a selection. */
export const MAX_BROWN_CATEGORIES = 32;

/** The genre letter of a Brown file (`ca01` → `a`). */
export function genreLetter(file: BrownFile): string {
  return file.id.charAt(1);
}

/**
 * The genre letters `wanted` names, sorted and without repeats, checked against `files`: a
 * letter or a cats.txt name that no file has is refused (ERR_BROWN_CATEGORY), listing the
 * genres there are, rather than preparing an empty or smaller set than asked for.
 */
export function brownCategoryLetters(files: readonly BrownFile[], wanted: readonly string[]): string[] {
  if (wanted.length === 0 || wanted.length > MAX_BROWN_CATEGORIES)
    throw new DatasetError(
      'ERR_BROWN_CATEGORY',
      `name 1 to ${MAX_BROWN_CATEGORIES} Brown categories, got ${wanted.length}`,
    );
  const letters = new Set<string>();
  for (const raw of wanted) {
    const name = raw.trim().toLowerCase();
    const matching = files.filter((f) =>
      GENRE_LETTER.test(name) ? genreLetter(f) === name : f.category.toLowerCase() === name,
    );
    if (matching.length === 0) throw new DatasetError('ERR_BROWN_CATEGORY', unknownCategory(raw, files));
    for (const file of matching) letters.add(genreLetter(file));
  }
  return [...letters].sort();
}

function unknownCategory(raw: string, files: readonly BrownFile[]): string {
  const genres = new Map<string, string>();
  for (const file of files) genres.set(genreLetter(file), file.category);
  const known = [...genres].map(([letter, name]) => `${letter} (${name})`).join(', ');
  return `no Brown category "${raw}"; there are ${known}`;
}
