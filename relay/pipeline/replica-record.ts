// What the relay remembers of each pipeline replica's conduct within one step, to keep the step
// going when one misbehaves without knowing which one did.
//
// A stalled step cannot be pinned on anyone: a silent replica starves the replicas downstream of
// it on its routes, and they go silent too, and the replicas of its stage wait for its gradient
// before they send their norm. Two replicas of a stage that disagree cannot be told apart
// either (no head count decides, DESIGN's threat model). So the relay does not judge; it narrows:
// a step that failed opens again with one replica on each suspect stage, the one with the fewest
// failures in this step, ties broken by the relay's own draw. Nothing a replica can build up
// (tenure, a record of good steps) breaks a tie: a replica that behaved for a hundred steps to
// win every tie would then win every dispute it starts.
//
// A cool-down is for failures that can be pinned: a replica that sent what no honest one could
// (its stage's only replica sending an implausible norm, a loss out of range), left in the
// middle of a step, was a newcomer in a step that passed its deadline, or failed more attempts
// of the step than any replica the step committed with. When a step commits, each such replica
// takes a strike and sits out 2^(strikes-1) steps (at most MAX_BENCH_STEPS); a replica in a
// committed step loses its strikes. Strikes are kept by key, so a reconnect does not clear
// them. A deadline or a disagreement otherwise fails every replica it touched alike, so it
// benches nobody: the stall window (stall-window.ts) is what makes a repeated one cheap.

/**
 * Longest cool-down, in steps: a strike count past it stops growing the wait. Long, because a
 * key that only ever stalls its first step costs a deadline each time it is seated again.
 */
export const MAX_BENCH_STEPS = 1024;

export class ReplicaRecord {
  private readonly strikes = new Map<string, number>();
  /** The first step each benched replica may be seated for again. */
  private readonly benchedUntil = new Map<string, number>();
  /** Failures in the step now open, across its attempts. */
  private failures = new Map<string, number>();

  constructor(private readonly random: () => number = Math.random) {}

  /** Whether `id` sits out `step`. */
  benched(id: string, step: number): boolean {
    return (this.benchedUntil.get(id) ?? -1) > step;
  }

  /** `id` took part in an attempt that failed (or sent what failed it). */
  failed(id: string): void {
    this.failures.set(id, (this.failures.get(id) ?? 0) + 1);
  }

  /** Of a stage's candidates, the one to run a narrowed attempt on (none when there are none). */
  pick(candidates: readonly string[]): string | undefined {
    const draw = new Map(candidates.map((id) => [id, this.random()]));
    return [...candidates].sort(
      (a, b) =>
        (this.failures.get(a) ?? 0) - (this.failures.get(b) ?? 0) ||
        (draw.get(a) as number) - (draw.get(b) as number),
    )[0];
  }

  /**
   * Step `step` committed with `members`: they lose their strikes; whoever failed more of the
   * step's attempts than every one of them is benched. Returns the benched and their first step
   * back.
   */
  committed(step: number, members: readonly string[]): Map<string, number> {
    const kept = new Set(members);
    const cleared = Math.max(0, ...members.map((id) => this.failures.get(id) ?? 0));
    for (const id of kept) this.strikes.delete(id);
    const benched = new Map<string, number>();
    for (const [id, failures] of this.failures) {
      if (kept.has(id) || failures <= cleared) continue;
      const strikes = (this.strikes.get(id) ?? 0) + 1;
      this.strikes.set(id, strikes);
      const until = step + 1 + Math.min(2 ** (strikes - 1), MAX_BENCH_STEPS);
      this.benchedUntil.set(id, until);
      benched.set(id, until);
    }
    this.failures = new Map();
    return benched;
  }
}
