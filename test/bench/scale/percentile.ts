// Percentiles of a bench's samples by the nearest-rank method: the value below which the
// fraction p of the samples lie, always one that was measured (never interpolated).
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1] as number;
}
