// The continual methods' B phases, in the table's order: which A model each starts from, which
// rate it follows over B, and what fraction of its sequences replay A. Replay applies to the
// re-warm rows (--replay) and to the infinite schedule's rows (--infinite-replay) alike, so
// the infinite schedule's B margin can be spent on A the way re-warming's is.

export interface BPhasePlan {
  readonly method: string;
  /** The A model it is handed: A's cosine run, or the infinite schedule's own A phase. */
  readonly from: 'cosine' | 'infinite';
  /** Its rate over B: A's floor, a re-warm and re-decay, or the infinite schedule's B part. */
  readonly rate: 'floor' | 'rewarm' | 'infinite';
  /** Fraction of the B phase's sequences drawn from A's training split. */
  readonly replay: number;
}

const percent = (fraction: number) => `${+(fraction * 100).toFixed(1)}%`;

export function bPhasePlans(replay: readonly number[], infiniteReplay: readonly number[]): BPhasePlan[] {
  const infinite = 'infinite: plateau on B, anneal';
  return [
    { method: 'no re-warm (A floor)', from: 'cosine', rate: 'floor', replay: 0 },
    { method: 're-warm + re-decay', from: 'cosine', rate: 'rewarm', replay: 0 },
    ...replay.map(
      (f): BPhasePlan => ({
        method: `re-warm + re-decay + ${percent(f)} replay`,
        from: 'cosine',
        rate: 'rewarm',
        replay: f,
      }),
    ),
    { method: infinite, from: 'infinite', rate: 'infinite', replay: 0 },
    ...infiniteReplay.map(
      (f): BPhasePlan => ({
        method: `${infinite} + ${percent(f)} replay`,
        from: 'infinite',
        rate: 'infinite',
        replay: f,
      }),
    ),
  ];
}
