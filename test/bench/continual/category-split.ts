// The two distributions of the continual-pretraining bench: the Brown Corpus cut by genre into
// A (press and learned prose) and B (fiction), the way Ibrahim et al. (2024) move a model from
// one corpus to another. Each genre goes to at most one side, so no document is in both.
import type { BrownFile } from '../../../relay/datasets/brown.ts';

/** A: news, editorial, reviews (press a/b/c) and learned (j), 168 of the 500 files. */
export const A_CATEGORIES: readonly string[] = ['news', 'editorial', 'reviews', 'learned'];

/** B: fiction, mystery, science fiction, adventure, romance, humor (k/l/m/n/p/r), 126 files. */
export const B_CATEGORIES: readonly string[] = [
  'fiction',
  'mystery',
  'science_fiction',
  'adventure',
  'romance',
  'humor',
];

export interface CategorySplit {
  /** File ids of A, in name order. */
  readonly a: readonly string[];
  readonly b: readonly string[];
}

/**
 * The ids of the files whose genre is in `a` and in `b`. Refuses genre lists that share a name
 * and a side that matches no file, so a typo cannot silently train on nothing or on both.
 */
export function splitByCategory(
  files: readonly BrownFile[],
  a: readonly string[] = A_CATEGORIES,
  b: readonly string[] = B_CATEGORIES,
): CategorySplit {
  const shared = a.filter((category) => b.includes(category));
  if (shared.length > 0) throw new RangeError(`categories on both sides: ${shared.join(', ')}`);
  const pick = (categories: readonly string[], side: string) => {
    const ids = files.filter((f) => categories.includes(f.category)).map((f) => f.id);
    if (ids.length === 0)
      throw new RangeError(`no Brown file is in ${side}'s categories (${categories.join(', ')})`);
    return ids;
  };
  return { a: pick(a, 'A'), b: pick(b, 'B') };
}
