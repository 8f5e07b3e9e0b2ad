// The train/validation split: a deterministic rule, so every preparation of the same source
// holds out the same text and validation losses stay comparable across runs and machines.
//
// Rule, by whole documents: with at least VAL_EVERY documents, document i (0-based, in
// source order) is validation when i % VAL_EVERY === VAL_EVERY - 1, i.e. every 20th
// document, 5% of them. "Every Nth" rather than "the last 5%" because the Brown files come
// grouped by genre (ca01..cr09): the last 5% would be all humour, while every 20th draws
// from every genre.
//
// With fewer documents than that (a user's single book, say) there is nothing to draw
// from, so the documents are joined and the last ceil(n / VAL_EVERY) tokens of the n are
// validation: a cut inside the text, still 5%, still deterministic.
import type { SplitName } from '../../protocol/dataset-manifest.ts';

/** One document in VAL_EVERY is held out for validation. */
export const VAL_EVERY = 20;

/**
 * Put between consecutive documents of a split. Documents end with a newline (Brown's do;
 * text files normally do), so this leaves a blank line at each boundary: a mark a byte model
 * can learn, in a vocabulary with no room for an end-of-text token.
 */
export const DOCUMENT_SEPARATOR = '\n';

export type SplitMode = 'documents' | 'tokens';

/** How a source of `documentCount` documents is split. */
export function splitMode(documentCount: number, valEvery: number = VAL_EVERY): SplitMode {
  return documentCount >= valEvery ? 'documents' : 'tokens';
}

/** The split of document `index` under the by-document rule. */
export function documentSplit(index: number, valEvery: number = VAL_EVERY): SplitName {
  return index % valEvery === valEvery - 1 ? 'val' : 'train';
}

/** Under the by-token rule: how many of `tokenCount` tokens go to training (the rest: val). */
export function trainTokenCount(tokenCount: number, valEvery: number = VAL_EVERY): number {
  return tokenCount - Math.ceil(tokenCount / valEvery);
}

/** The rule in words, written into the manifest. */
export function describeSplitRule(mode: SplitMode, valEvery: number = VAL_EVERY): string {
  return mode === 'documents'
    ? `by document: document i is validation when i % ${valEvery} == ${valEvery - 1}`
    : `by token: the last ceil(n / ${valEvery}) of n tokens are validation (fewer than ${valEvery} documents)`;
}
