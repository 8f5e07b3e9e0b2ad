// The two distributions of the continual-pretraining bench: the Brown Corpus cut by genre into
// A (press and learned prose) and B (fiction), the way Ibrahim et al. (2024) move a model from
// one corpus to another. Each side is an ordinary Brown source with categories (what
// `npm run prepare-data -- --brown-categories` prepares); no genre may be on both sides, so no
// document is.
import { listBrownFiles } from '../../../relay/datasets/brown.ts';
import { brownCategoryLetters } from '../../../relay/datasets/brown-categories.ts';
import type { DatasetSource } from '../../../relay/datasets/source.ts';

/** A: press (a news, b editorial, c reviews) and learned (j); 168 of the 500 files. */
export const A_CATEGORIES: readonly string[] = ['a', 'b', 'c', 'j'];

/** B: fiction (k general, l mystery, m science fiction, n adventure, p romance, r humor); 126 files. */
export const B_CATEGORIES: readonly string[] = ['k', 'l', 'm', 'n', 'p', 'r'];

export interface CategorySources {
  readonly a: DatasetSource & { readonly kind: 'brown'; readonly categories: readonly string[] };
  readonly b: DatasetSource & { readonly kind: 'brown'; readonly categories: readonly string[] };
}

/**
 * A's and B's sources, their genres as letters. Refuses a genre on both sides (however it is
 * spelled); an unknown genre or an empty side is refused by brownCategoryLetters.
 */
export function categorySources(
  a: readonly string[] = A_CATEGORIES,
  b: readonly string[] = B_CATEGORIES,
): CategorySources {
  const files = listBrownFiles();
  const aLetters = brownCategoryLetters(files, a);
  const bLetters = brownCategoryLetters(files, b);
  const shared = aLetters.filter((letter) => bLetters.includes(letter));
  if (shared.length > 0) throw new RangeError(`genres on both sides: ${shared.join(', ')}`);
  return { a: { kind: 'brown', categories: aLetters }, b: { kind: 'brown', categories: bLetters } };
}
