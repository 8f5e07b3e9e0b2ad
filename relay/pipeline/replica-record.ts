// What the relay remembers of each pipeline replica's conduct, to keep a step going when one
// misbehaves without knowing which one did.
//
// A stalled step cannot be pinned on anyone: a silent replica starves the replicas downstream of
// it on its routes, and they go silent too, and the replicas of its stage wait for its gradient
// before they send their norm. Two replicas of a stage that disagree cannot be told apart
// either (no head count decides, DESIGN's threat model). So the relay does not judge; it narrows:
// a step that failed (a deadline passed, replicas disagreed, a replica sent a value no honest one
// could) opens again with one replica on each suspect stage, the one with the fewest failures in
// this step, then the longest tenure (committed steps held on its seat: an identity made for the
// attack has none), then the relay's own draw. When a narrowed attempt commits, every replica
// that failed in the step and was left out of the commit takes a strike and sits out 2^(strikes-1)
// steps; a replica in a committed step loses its strikes. A replica that always fails never
// commits, so its cool-down doubles each time it comes back; an honest one left out by the draw
// takes one strike, sits out one step, and loses it at its next commit.

/** Longest cool-down, in steps: a strike count past it stops growing the wait. */
export const MAX_BENCH_STEPS = 64;

export class ReplicaRecord {
  /** Committed steps each replica has held its seat for. */
  private readonly tenure = new Map<string, number>();
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
        (this.tenure.get(b) ?? 0) - (this.tenure.get(a) ?? 0) ||
        (draw.get(a) as number) - (draw.get(b) as number),
    )[0];
  }

  /**
   * Step `step` committed with `members`: they gain tenure and lose their strikes; whoever failed
   * in the step and is not among them is benched. Returns the benched and their first step back.
   */
  committed(step: number, members: readonly string[]): Map<string, number> {
    const kept = new Set(members);
    for (const id of kept) {
      this.tenure.set(id, (this.tenure.get(id) ?? 0) + 1);
      this.strikes.delete(id);
    }
    const benched = new Map<string, number>();
    for (const id of this.failures.keys()) {
      if (kept.has(id)) continue;
      const strikes = (this.strikes.get(id) ?? 0) + 1;
      this.strikes.set(id, strikes);
      const until = step + 1 + Math.min(2 ** (strikes - 1), MAX_BENCH_STEPS);
      this.benchedUntil.set(id, until);
      this.tenure.delete(id); // it missed this step: back later, it starts its seat again
      benched.set(id, until);
    }
    this.failures = new Map();
    return benched;
  }

  /** `id` lost its seat (it left): its tenure ends with it; strikes and bench stay. */
  unseated(id: string): void {
    this.tenure.delete(id);
  }
}
