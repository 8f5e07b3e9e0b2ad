// The GPU side of a pipeline volunteer, as the peer runtime (web/src/peer/pipeline-volunteer.ts)
// sees it: every method is async and takes and returns plain bytes and numbers, so the browser's
// worker can serve it through comlink and the headless volunteer can call it in-process. The
// stage is opened when the relay first names it, and kept across reconnects to the relay
// (web/src/peer/held-stage.ts); a volunteer the relay moves to another stage frees the one it
// holds (destroy()) and opens the other.
import type { RunConfig } from '../../protocol/run-config.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { MicrobatchPlace } from './stage-boundary.ts';
import { StageEngine, type StageForward, type StageResult } from './stage-engine.ts';

export interface StageVolunteerEngine {
  /**
   * Builds stage `stage` from θ_0 (the run's seed); again for the same stage is a no-op. Another
   * stage only once destroy() freed the one open: a stage's weights never go by accident.
   */
  openStage(stage: number): Promise<void>;
  forward(
    step: number,
    m: number,
    input: { tokens?: Uint32Array; frame?: Uint8Array },
    place: MicrobatchPlace,
  ): Promise<StageResult<StageForward>>;
  backward(
    step: number,
    m: number,
    frame: Uint8Array | undefined,
    place: MicrobatchPlace,
  ): Promise<StageResult<Uint8Array | null>>;
  gradients(step: number): Promise<Uint8Array>;
  tiedGradient(step: number): Promise<Uint8Array>;
  tiedWeights(step: number): Promise<Uint8Array>;
  /** The stage's gradient for the step, summed; resolves to its squared norm for the clip. */
  sumGradients(
    step: number,
    replicaGradients: readonly Uint8Array[],
    tiedGradients: readonly Uint8Array[],
  ): Promise<StageResult<number>>;
  /** AdamW on that gradient, clipped by the whole model's norm. */
  applyStep(step: number, learningRate: number, gradNorm: number): Promise<void>;
  setTiedWeights(step: number, frame: Uint8Array): Promise<StageResult<void>>;
  paramsHash(): Promise<string>;
  /** The stage's state for a new replica (between steps); importState() on the new replica takes it. */
  exportState(step: number): Promise<Uint8Array>;
  importState(step: number, frame: Uint8Array): Promise<StageResult<void>>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /** Frees the stage open, if any; openStage() may open one again. Safe to call twice. */
  destroy(): Promise<void>;
}

/** The in-process engine: the headless volunteer's, and the browser worker's behind comlink. */
export class LocalStageVolunteerEngine implements StageVolunteerEngine {
  private engine: StageEngine | null = null;

  constructor(
    private readonly ctx: GpuContext,
    private readonly config: RunConfig,
    /** This peer's stochastic-rounding stream: noiseStreamOf(config.seed, its key). */
    private readonly noiseStream: number,
  ) {}

  async openStage(stage: number): Promise<void> {
    if (this.engine?.stage === stage) return;
    if (this.engine) throw new RangeError(`this volunteer holds stage ${this.engine.stage}, not ${stage}`);
    this.engine = StageEngine.create({
      ctx: this.ctx,
      config: this.config,
      stage,
      noiseStream: this.noiseStream,
    });
  }

  private get open(): StageEngine {
    if (!this.engine) throw new RangeError('no stage is open yet');
    return this.engine;
  }

  forward(
    step: number,
    m: number,
    input: { tokens?: Uint32Array; frame?: Uint8Array },
    place: MicrobatchPlace,
  ) {
    return this.open.forward(step, m, input, place);
  }

  backward(step: number, m: number, frame: Uint8Array | undefined, place: MicrobatchPlace) {
    return this.open.backward(step, m, frame, place);
  }

  gradients(step: number) {
    return this.open.gradients(step);
  }

  tiedGradient(step: number) {
    return this.open.tiedGradient(step);
  }

  tiedWeights(step: number) {
    return this.open.tiedWeights(step);
  }

  sumGradients(step: number, replica: readonly Uint8Array[], tied: readonly Uint8Array[]) {
    return this.open.sumGradients(step, replica, tied);
  }

  applyStep(step: number, learningRate: number, gradNorm: number) {
    return this.open.applyStep(step, learningRate, gradNorm);
  }

  async setTiedWeights(step: number, frame: Uint8Array) {
    return this.open.setTiedWeights(step, frame);
  }

  paramsHash() {
    return this.open.paramsHash();
  }

  exportState(step: number) {
    return this.open.exportState(step);
  }

  async importState(step: number, frame: Uint8Array) {
    return this.open.importState(step, frame);
  }

  async commit(): Promise<void> {
    this.engine?.commit();
  }

  async rollback(): Promise<void> {
    this.engine?.rollback();
  }

  async destroy(): Promise<void> {
    this.engine?.destroy();
    this.engine = null;
  }
}
