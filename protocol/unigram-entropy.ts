// Unigram entropy of a token stream, in nats: H = -sum_i p_i ln p_i over token frequencies.
// It is the cross-entropy loss of the best model that ignores context (one that always
// predicts the data's token frequencies), so it is the first bar a training run must clear:
// the loss starts near ln(vocabSize) (5.55 for bytes), should fall to this figure within a
// few hundred steps, and only below it has the model learned anything about context.
// Nats, because the training loss is a natural-log cross-entropy.

/**
 * Adds the occurrences of each id in `tokens` to `counts` (a fresh table when omitted), so
 * a split spread over many shards can be counted shard by shard. Throws RangeError on an id
 * outside [0, vocabSize): callers pass tokens they produced or already validated.
 */
export function countTokens(
  tokens: ArrayLike<number>,
  vocabSize: number,
  counts: Float64Array = new Float64Array(vocabSize),
): Float64Array {
  if (counts.length !== vocabSize)
    throw new RangeError(`counts has ${counts.length} entries, vocab is ${vocabSize}`);
  for (let i = 0; i < tokens.length; i++) {
    const id = tokens[i] as number;
    if (!(id >= 0 && id < vocabSize && Number.isInteger(id))) {
      throw new RangeError(`token ${i} is ${id}, vocab size is ${vocabSize}`);
    }
    counts[id] = (counts[id] as number) + 1;
  }
  return counts;
}

/** Entropy in nats of the distribution the counts describe; 0 for no counts at all. */
export function entropyFromCounts(counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] as number;
  if (total === 0) return 0;
  let entropy = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (c > 0) {
      const p = c / total;
      entropy -= p * Math.log(p);
    }
  }
  return entropy;
}

/** Unigram entropy in nats of `tokens` (ids in [0, vocabSize)); 0 for an empty stream. */
export function unigramEntropy(tokens: ArrayLike<number>, vocabSize: number): number {
  return entropyFromCounts(countTokens(tokens, vocabSize));
}
