// How long a pipeline stage stays narrowed to one replica after a stall it cannot pin on anyone.
//
// A deadline that passes (every stage is suspect) or replicas that disagree (their stage is)
// fail every replica the attempt touched alike, so nobody can be benched for it
// (replica-record.ts). A replica that stalls only the attempts it shares with others, and
// behaves whenever it runs alone, would then cost every step a deadline. So each stall raises
// its stages' score by one, and the stage runs on one drawn replica for the next
// 2^(⌊score⌋-1) steps (at most MAX_WINDOW_STEPS); each step the stage commits with its replicas
// together takes a tenth off the score. An honest network's rare stall narrows one step; a
// replica stalling every shared step stalls once per MAX_WINDOW_STEPS steps after a few rounds,
// and is drawn for the narrowed steps no more often than any other replica of its stage.

export const MAX_WINDOW_STEPS = 64;
/** What each committed shared step leaves of a stage's score. */
export const SCORE_DECAY = 0.9;

export class StallWindow {
  private readonly score: number[];
  /** Per stage, the first step it runs shared again. */
  private readonly narrowUntil: number[];

  constructor(stages: number) {
    this.score = Array.from({ length: stages }, () => 0);
    this.narrowUntil = Array.from({ length: stages }, () => -1);
  }

  /** Step `step` stalled on `stages`: they run narrowed from its next attempt on. */
  stalled(step: number, stages: Iterable<number>): void {
    for (const s of stages) {
      const score = (this.score[s] ?? 0) + 1;
      this.score[s] = score;
      this.narrowUntil[s] = step + Math.min(2 ** (Math.floor(score) - 1), MAX_WINDOW_STEPS);
    }
  }

  /** Whether `stage` runs on one replica at `step`. */
  narrows(stage: number, step: number): boolean {
    return (this.narrowUntil[stage] ?? -1) > step;
  }

  /** Step `step` committed; `shared` are the stages it ran with all their replicas. */
  committed(shared: Iterable<number>): void {
    for (const s of shared) this.score[s] = (this.score[s] ?? 0) * SCORE_DECAY;
  }
}
