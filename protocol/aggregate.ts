// Aggregation of the contributions the relay counted for a round. Every peer runs this on the
// CPU in fp32 over the same set in the same order (sorted by peer id), so every peer gets the
// same bits whatever order the frames arrived in: floating-point addition is not
// associative, and summing in arrival order would split the swarm into different models.

/** One peer's decoded pseudo-gradient: sparse values at global parameter indices. */
export interface Contribution {
  readonly peer: string;
  /** Tokens the peer trained on this round (from the relay's assignment, not its claim). */
  readonly tokens: number;
  /** Global parameter indices, each at most once. */
  readonly indices: Uint32Array;
  readonly values: Float32Array;
}

/** Σ_i (tokens_i / Σ tokens) Δ_i over n parameters, in fp32, in peer-id order. */
export function aggregate(n: number, contributions: readonly Contribution[]): Float32Array {
  const sum = new Float32Array(n);
  const total = contributions.reduce((t, c) => t + c.tokens, 0);
  if (total <= 0) return sum;
  const ordered = [...contributions].sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0));
  for (const { peer, tokens, indices, values } of ordered) {
    if (indices.length !== values.length)
      throw new RangeError(`${peer}: ${indices.length} indices but ${values.length} values`);
    const weight = Math.fround(tokens / total);
    for (let j = 0; j < indices.length; j++) {
      const i = indices[j] as number;
      if (i >= n) throw new RangeError(`${peer}: index ${i} is outside ${n} parameters`);
      sum[i] = Math.fround((sum[i] as number) + Math.fround(weight * (values[j] as number)));
    }
  }
  return sum;
}
