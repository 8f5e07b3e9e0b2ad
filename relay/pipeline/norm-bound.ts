// How large a stage's gradient may plausibly be. A replica that sends a huge sum of squares
// does not break the step: every stage clips by the whole model's norm, so it shrinks every
// stage's update towards nothing, and a stage with one replica has no twin to disagree with it
// (the attack that froze a run's updates with a norm of 1e150). So the relay keeps each stage's
// recent committed sums and refuses one more than BOUND_FACTOR times their median: a real loss
// spike moves a gradient's norm by tens, not by the factor of a thousand (10^6 in the square)
// allowed here. The first steps have no history and no bound beyond the schema's; an attacker
// there is the one whose history it would be.

/** Committed steps a stage needs before its sums are bounded; the window they are kept over. */
export const NORM_HISTORY_MIN = 8;
export const NORM_HISTORY_WINDOW = 32;
/** A sum of squares above this many times the stage's recent median is refused (10^3 in norm). */
export const BOUND_FACTOR = 1e6;

export class NormBound {
  private readonly history: number[][];

  constructor(stages: number) {
    this.history = Array.from({ length: stages }, () => []);
  }

  /** Whether `sumOfSquares` is one an honest replica of `stage` could send now. */
  plausible(stage: number, sumOfSquares: number): boolean {
    const past = this.history[stage] ?? [];
    if (past.length < NORM_HISTORY_MIN) return true;
    // A stage whose gradients were all zero (nothing to learn yet, or a zeroed attack) bounds by
    // the smallest normal float64 rather than refusing every gradient that is not zero.
    return sumOfSquares <= BOUND_FACTOR * Math.max(median(past), 2 ** -1022);
  }

  /** A step committed with these per-stage sums of squares. */
  committed(sums: readonly number[]): void {
    for (const [s, x] of sums.entries()) {
      const past = this.history[s];
      if (!past) continue;
      past.push(x);
      if (past.length > NORM_HISTORY_WINDOW) past.shift();
    }
  }
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
