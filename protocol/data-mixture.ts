// What a run trains on: one prepared data set, named by a string as every run before issue 18
// did ("brown", or a folder made by `npm run prepare-data`), or a weighted mixture of several
// (new data with weight 0.95 and a replay of the old with 0.05, as Ibrahim et al. 2024 continue
// pretraining). A string keeps its run config, and so its run id, exactly as it was.
//
// Weights are relative: each dataset gets weight / (sum of weights) of the tokens the relay
// hands out (relay/rounds/shard-pool.ts), counted exactly, not sampled. The datasets are laid
// end to end in the order given, so a token range of the run names its dataset by where it
// lies (mixtureSpans): the wire's assignments, the ledger's ranges and the volunteers' shard
// reads keep the one offset they had.

import * as v from 'valibot';

/** Datasets one mixture may name: enough for new data and a few replays, far below a hostile list. */
export const MAX_MIXTURE_DATASETS = 8;
/**
 * The smallest share a dataset may get: one token in a thousand. Less would be a typo, and a
 * relay would hand it out so rarely that its validation loss says nothing about its training.
 */
export const MIN_MIXTURE_SHARE = 0.001;

/** A data set by name ("brown") or by the path of a prepared folder. */
export const DatasetNameSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(400));

const MixturePartSchema = v.object({
  dataset: DatasetNameSchema,
  /** Relative weight: positive and finite; the shares are the weights over their sum. */
  weight: v.pipe(v.number(), v.finite(), v.gtValue(0)),
});
export type MixturePart = v.InferOutput<typeof MixturePartSchema>;

export const DataMixtureSchema = v.pipe(
  v.array(MixturePartSchema),
  v.minLength(1, 'a mixture names at least one dataset'),
  v.maxLength(MAX_MIXTURE_DATASETS, `a mixture names at most ${MAX_MIXTURE_DATASETS} datasets`),
  v.check(
    (parts) => new Set(parts.map((p) => p.dataset)).size === parts.length,
    'a mixture names each dataset once',
  ),
  v.check(
    (parts) => Number.isFinite(parts.reduce((sum, p) => sum + p.weight, 0)),
    'the weights sum past the largest number',
  ),
  v.check(
    (parts) => mixtureShares(parts).every((share) => share >= MIN_MIXTURE_SHARE),
    `every dataset of a mixture needs a share of at least ${MIN_MIXTURE_SHARE} of the weights' sum`,
  ),
);
export type DataMixture = v.InferOutput<typeof DataMixtureSchema>;

/**
 * The run config's `dataset`: one data set, or a mixture of several. A list is checked as a
 * mixture and anything else as a name, so a refusal names the rule the list broke.
 */
export const DatasetChoiceSchema = v.lazy((input) =>
  Array.isArray(input) ? DataMixtureSchema : DatasetNameSchema,
);
export type DatasetChoice = v.InferOutput<typeof DatasetChoiceSchema>;

/** The choice as a list of parts: a single dataset is a mixture of one, with weight 1. */
export function mixtureParts(choice: DatasetChoice): readonly MixturePart[] {
  return typeof choice === 'string' ? [{ dataset: choice, weight: 1 }] : choice;
}

/** Each part's share of the tokens: its weight over the weights' sum. */
export function mixtureShares(parts: readonly MixturePart[]): number[] {
  const sum = parts.reduce((total, p) => total + p.weight, 0);
  return parts.map((p) => p.weight / sum);
}

/** Where one dataset's training tokens lie in the run's token space: [start, end). */
export interface MixtureSpan {
  readonly start: number;
  readonly end: number;
}

/** Datasets of `trainTokens[i]` tokens each, laid end to end in the mixture's order. */
export function mixtureSpans(trainTokens: readonly number[]): MixtureSpan[] {
  let start = 0;
  return trainTokens.map((tokens) => {
    const span = { start, end: start + tokens };
    start = span.end;
    return span;
  });
}

/** The index of the span holding all of [start, end), or -1 when none does (it straddles two). */
export function spanOf(spans: readonly MixtureSpan[], start: number, end: number): number {
  return spans.findIndex((s) => s.start <= start && end <= s.end && start < end);
}
