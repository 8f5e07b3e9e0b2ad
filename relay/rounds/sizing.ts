// How much work each member of a round gets, from its measured speed: a round lasts as long
// as a peer of median speed needs for H inner steps, and every member is given the steps it
// can do in that time, so a slow laptop and a fast desktop finish together instead of the
// desktop idling at the barrier. The aggregate weights each contribution by its tokens
// (protocol/aggregate.ts), so unequal shares are averaged correctly.

export interface Candidate {
  readonly peer: string;
  /** Measured training tokens per second; 0 or unknown counts as the median. */
  readonly tokensPerSec: number;
  readonly uplinkBytesPerSec: number;
}

export interface SizingRules {
  /** H for a peer of median speed. */
  readonly innerSteps: number;
  readonly tokensPerStep: number;
  readonly maxInnerStepsFactor: number;
  /** Peers slower than this fraction of the median wait out the round... */
  readonly slowestSpeedRatio: number;
  /**
   * ...unless the round would have fewer members than this (the run's minPeers): then the
   * fastest of them join after all, with the few steps their speed allows. Otherwise a peer
   * whose speed was measured badly once (a busy machine) could sit out round after round while
   * the round runs below the size the run asks for. Default 1.
   */
  readonly minMembers?: number;
}

export interface Share {
  readonly peer: string;
  readonly innerSteps: number;
}

export interface Sizing {
  readonly shares: readonly Share[];
  /** Peers left out of this round (too slow). Every other candidate is seated, in some group. */
  readonly waiting: readonly string[];
  /** Seconds a median member needs for its inner steps. */
  readonly innerSeconds: number;
}

export function sizeRound(candidates: readonly Candidate[], rules: SizingRules): Sizing {
  const speeds = candidates.map((c) => c.tokensPerSec).filter((s) => s > 0 && Number.isFinite(s));
  const median = speeds.length > 0 ? medianOf(speeds) : 0;
  const speedOf = (c: Candidate) =>
    c.tokensPerSec > 0 && Number.isFinite(c.tokensPerSec) ? c.tokensPerSec : median;
  // The fastest first, ties by id, so the choice is deterministic.
  const ranked = [...candidates].sort((a, b) => speedOf(b) - speedOf(a) || (a.peer < b.peer ? -1 : 1));
  const shares: Share[] = [];
  const waiting: string[] = [];
  const maxSteps = Math.max(rules.innerSteps, Math.floor(rules.innerSteps * rules.maxInnerStepsFactor));
  const stepsFor = (speed: number) =>
    Math.min(
      maxSteps,
      Math.max(1, median > 0 ? Math.round((rules.innerSteps * speed) / median) : rules.innerSteps),
    );
  for (const c of ranked) {
    const speed = speedOf(c);
    const tooSlow = median > 0 && speed < median * rules.slowestSpeedRatio;
    if (tooSlow) {
      waiting.push(c.peer);
      continue;
    }
    shares.push({ peer: c.peer, innerSteps: stepsFor(speed) });
  }
  // Too few members: seat the fastest of the slow ones (waiting is in speed order).
  while (shares.length < (rules.minMembers ?? 1) && waiting.length > 0) {
    const peer = waiting.shift() as string;
    const c = ranked.find((x) => x.peer === peer) as Candidate;
    shares.push({ peer, innerSteps: stepsFor(speedOf(c)) });
  }
  const innerSeconds = median > 0 ? (rules.innerSteps * rules.tokensPerStep) / median : 0;
  return { shares, waiting, innerSeconds };
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
