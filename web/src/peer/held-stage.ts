// The stage a pipeline volunteer's engine holds, and which committed step its weights are. It
// outlives the peer on one connection (pipeline-volunteer.ts, one per connection): when the relay
// connection drops, the step in flight is rolled back and the stage stays in the engine, so the
// peer on the next connection claims it in its `ready`, and the relay can seat it back on that
// stage without a state transfer. Were the stage dropped instead, a 3-second blip would take a
// stage's only replica and its weights with it, and the run would wait for ever.
//
// The claim is the relay's convention for a stage's weights: the round is the last committed
// step they are (-1: θ_0, as a freshly opened stage holds), the hash is the stage's weights hash,
// the one replicas put in their `stage-report`. A peer that holds no stage claims (-1, null).
import type { StageVolunteerEngine } from '../../../kernels/pipeline/stage-volunteer-engine.ts';

/** What a `ready` message says the peer holds. */
export interface StageClaim {
  readonly round: number;
  readonly modelHash: string | null;
}

export class HeldStage {
  private held: number | null = null;
  private step = -1;

  /** The stage open in the engine; null before the relay first seats this peer. */
  get stage(): number | null {
    return this.held;
  }

  /** The last committed step whose weights the stage holds; -1 for θ_0. */
  get committedStep(): number {
    return this.step;
  }

  /** The engine opened `stage` from θ_0. */
  opened(stage: number): void {
    this.held = stage;
    this.step = -1;
  }

  /** The engine let go of its stage (freed, or another stage is about to open). */
  dropped(): void {
    this.held = null;
    this.step = -1;
  }

  /** The relay committed `step` and the engine kept it. */
  committed(step: number): void {
    this.step = step;
  }

  /**
   * The engine imported its stage's state from a replica before `step`'s work: the relay opens
   * step k+1 right after committing k, so a replica exports what step `step - 1` committed.
   */
  imported(step: number): void {
    this.step = step - 1;
  }

  /** What to say in `ready`, with nothing uncommitted left in `engine` (rolled back first). */
  async claim(engine: Pick<StageVolunteerEngine, 'paramsHash'>): Promise<StageClaim> {
    if (this.held === null) return { round: -1, modelHash: null };
    return { round: this.step, modelHash: await engine.paramsHash() };
  }
}
