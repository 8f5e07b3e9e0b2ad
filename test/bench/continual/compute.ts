// The bench's compute accounting: tokens trained. A continual method is handed the A model
// (that is the point of continual training), so only its B phase counts; re-training from
// scratch counts every token of A ∪ B. computeRatio is a method's counted tokens over
// re-training's.

export interface Phase {
  readonly name: string;
  /** Tokens this phase trained on (the trainer's count). */
  readonly tokens: number;
  /** Whether the method pays for it: false for the A model a continual method starts from. */
  readonly counted: boolean;
}

export function countedTokens(phases: readonly Phase[]): number {
  return phases.reduce((sum, p) => sum + (p.counted ? p.tokens : 0), 0);
}

/** A method's counted tokens over the re-training baseline's. */
export function computeRatio(method: readonly Phase[], retraining: readonly Phase[]): number {
  const baseline = countedTokens(retraining);
  if (baseline <= 0) throw new RangeError('re-training counted no tokens');
  return countedTokens(method) / baseline;
}

/** A continual method's phases: the A model it was handed (not counted), then its B phase. */
export function continualPhases(aTokens: number, bTokens: number): Phase[] {
  return [
    { name: 'A (given)', tokens: aTokens, counted: false },
    { name: 'B', tokens: bTokens, counted: true },
  ];
}

/** Re-training from scratch: every token of A ∪ B counts. */
export function retrainingPhases(tokens: number): Phase[] {
  return [{ name: 'A ∪ B', tokens, counted: true }];
}
