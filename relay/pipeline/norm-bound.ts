// How large a stage's gradient may plausibly be. A replica that sends a huge sum of squares
// does not break the step: every stage clips by the whole model's norm, so it shrinks every
// stage's update towards nothing, and a stage with one replica has no twin to disagree with it
// (the attack that froze a run's updates with a norm of 1e150). Two bounds, each a factor of
// BOUND_FACTOR (10^3 in norm; a real loss spike moves a gradient's norm by tens):
// - against the stage's own recent committed sums (their median, once there are a few): a sum
//   past BOUND_FACTOR times it is refused. The history is the stage's replicas' own, so it
//   starts again when a newcomer first commits on the stage: a sole replica that drifted its
//   sums up or down cannot turn the bound against the honest replica that joins it.
// - against the other stages of the same step: a sum past BOUND_FACTOR times the largest of
//   theirs is refused. This one needs no history, so it holds from step 0, and a sole replica
//   cannot ratchet it up by growing its norm a little each step as it could its own median.
//   Which side lies cannot be told (a tiny sum on one stage makes the other look huge), so the
//   coordinator pins this failure on nobody.
// No lower bound: a stage's gradient may fall as it learns, and a bound below is one an
// attacker's small sums would turn against an honest newcomer. What remains for a sole replica:
// shrinking every update by up to the factor of a thousand allowed, or sending a small norm and
// escaping the clip; both are the trust a stage with one replica gets while pipeline work is
// not verified (its credit stays provisional).

/** Committed steps a stage needs before its sums are bounded; the window they are kept over. */
export const NORM_HISTORY_MIN = 8;
export const NORM_HISTORY_WINDOW = 32;
/** A sum of squares above this many times the bound's reference is refused (10^3 in norm). */
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

  /**
   * Of one step's agreed per-stage sums, the first stage whose sum is past BOUND_FACTOR times
   * every other stage's (null when none is, and always for one stage).
   */
  outlier(sums: readonly number[]): number | null {
    for (const [s, x] of sums.entries()) {
      const others = sums.filter((_, t) => t !== s);
      if (others.length > 0 && x > BOUND_FACTOR * Math.max(...others, 2 ** -1022)) return s;
    }
    return null;
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

  /** A newcomer committed its first step on `stage`: the sums so far were others' alone. */
  restart(stage: number): void {
    this.history[stage]?.splice(0);
  }
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
