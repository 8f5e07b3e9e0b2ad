// The GPU side of a volunteer as the peer runtime (web/src/peer/volunteer.ts) sees it: every
// method async and every argument plain data or a buffer, so the same interface is served
// in-process by the headless Node volunteer and across comlink by the browser's worker. It
// adds to RoundEngine what a donated GPU needs: state files in and out (checkpoints), a
// duty-cycle throttle that really idles the GPU, and pause.

import { initParams } from '../../protocol/init-params.ts';
import { decodeLocalState, encodeLocalState } from '../../protocol/local-state-file.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import { decodeRoundState, encodeRoundState, type RoundState } from '../../protocol/round-state-file.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import type { TuneCache } from '../gpu/autotune.ts';
import type { GpuContext } from '../gpu/context.ts';
import { RoundEngine, type RoundWork, type StepProgress } from './round-engine.ts';
import { TrainingAbortedError } from './training-aborted.ts';

export interface VolunteerEngine {
  /** Hash of the committed state this engine holds. */
  stateHash(): Promise<string>;
  /** The committed state as a safetensors file (protocol/round-state-file.ts). */
  exportState(): Promise<Uint8Array>;
  /** Takes a state file if it hashes to `expectedHash`; says why not otherwise. */
  importState(
    bytes: Uint8Array,
    expectedHash: string,
  ): Promise<{ ok: true } | { ok: false; message: string }>;
  train(
    work: RoundWork,
    onStep?: (progress: StepProgress) => void,
  ): Promise<{ tokens: number; meanLoss: number }>;
  contribute(work: { round: number; seed: number }): Promise<Uint8Array>;
  /** Applies the round's aggregate frame (protocol/aggregate-frame.ts) to θ_r; the hash of θ_{r+1}. */
  finish(work: { round: number; seed: number }, aggregate: Uint8Array): Promise<{ hash: string }>;
  /** This peer's own AdamW moments, step count and residual, as a file (never shared). */
  exportLocalState(round: number): Promise<Uint8Array>;
  /** Restores exportLocalState()'s file; false when it does not fit this model. */
  importLocalState(bytes: Uint8Array): Promise<boolean>;
  /** The relay committed `hash` for `round`: keep finish()'s outcome. False: this peer computed another. */
  commit(round: number, hash: string): Promise<boolean>;
  /** The round aborted: keep θ_r. */
  discard(): Promise<void>;
  /**
   * The round being trained is void (the relay aborted it, or the connection it came on is
   * gone): the training under way stops at its next step and train() rejects with
   * TrainingAbortedError, so a volunteer is free for the next round at once, not once a round
   * nobody will take is done. Nothing happens when nothing is training.
   */
  abortTraining(): Promise<void>;
  /** Fraction of wall time the GPU may work, in (0, 1]: after a step of t ms it idles t (1 − d) / d. */
  setDutyCycle(dutyCycle: number): Promise<void>;
  /** While paused, training waits between steps. */
  setPaused(paused: boolean): Promise<void>;
  destroy(): Promise<void>;
}

export interface LocalEngineOptions {
  readonly ctx: GpuContext;
  readonly config: RunConfig;
  /** θ_r and the outer momentum to start from; default θ_0 of the run's seed and no momentum. */
  readonly initial?: RoundState;
  readonly tuneCache: TuneCache;
  readonly noiseStream: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export class LocalVolunteerEngine implements VolunteerEngine {
  private dutyCycle = 1;
  private paused = false;
  private resume: (() => void) | null = null;
  /** The training run under way, if any: destroy() lets it stop before freeing its buffers. */
  private training: Promise<unknown> | null = null;
  private destroying = false;
  /** Set by abortTraining(), cleared when the next training starts. */
  private aborting = false;

  private constructor(
    private readonly engine: RoundEngine,
    private readonly config: RunConfig,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {}

  static async create(options: LocalEngineOptions): Promise<LocalVolunteerEngine> {
    const { config } = options;
    const engine = await RoundEngine.create({
      ctx: options.ctx,
      config,
      state: options.initial ?? {
        weights: initParams(config.model, config.seed),
        momentum: new Float32Array(paramLayout(config.model).totalFloats),
      },
      tuneCache: options.tuneCache,
      noiseStream: options.noiseStream,
    });
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    return new LocalVolunteerEngine(engine, config, sleep);
  }

  stateHash(): Promise<string> {
    return this.engine.stateHash();
  }

  async exportState(): Promise<Uint8Array> {
    return encodeRoundState(this.config.model, this.engine.state());
  }

  async importState(bytes: Uint8Array, expectedHash: string) {
    const decoded = await decodeRoundState(this.config.model, bytes, expectedHash);
    if (!decoded.ok) return { ok: false as const, message: decoded.message };
    this.engine.adopt(decoded.state);
    return { ok: true as const };
  }

  train(work: RoundWork, onStep?: (progress: StepProgress) => void) {
    this.aborting = false;
    const run = this.engine.train(work, onStep, (millis) => this.pace(millis));
    this.training = run.catch(() => undefined);
    return run;
  }

  contribute(work: { round: number; seed: number }): Promise<Uint8Array> {
    return this.engine.contribute(work);
  }

  async finish(work: { round: number; seed: number }, aggregate: Uint8Array) {
    const outcome = await this.engine.finish(work, aggregate);
    return { hash: outcome.hash };
  }

  async exportLocalState(round: number): Promise<Uint8Array> {
    return encodeLocalState(await this.engine.localState(round));
  }

  async importLocalState(bytes: Uint8Array): Promise<boolean> {
    const state = decodeLocalState(bytes, paramLayout(this.config.model).totalFloats);
    if (!state) return false;
    this.engine.restoreLocalState(state);
    return true;
  }

  async commit(round: number, hash: string): Promise<boolean> {
    return this.engine.commit(round, hash);
  }

  async discard(): Promise<void> {
    this.engine.discard();
  }

  async abortTraining(): Promise<void> {
    this.aborting = true;
    this.resume?.(); // a paused training stops too
    this.resume = null;
  }

  async setDutyCycle(dutyCycle: number): Promise<void> {
    if (!(dutyCycle > 0 && dutyCycle <= 1))
      throw new RangeError(`duty cycle must be in (0, 1], got ${dutyCycle}`);
    this.dutyCycle = dutyCycle;
  }

  async setPaused(paused: boolean): Promise<void> {
    this.paused = paused;
    if (!paused) {
      this.resume?.();
      this.resume = null;
    }
  }

  /** Stops a training run at its next step, then frees the GPU buffers it was using. */
  async destroy(): Promise<void> {
    this.destroying = true;
    await this.setPaused(false);
    await this.training;
    this.engine.destroy();
  }

  /** Between steps: idle for the throttle, then wait out a pause; stop if shutting down. */
  private async pace(stepMillis: number): Promise<void> {
    if (this.dutyCycle < 1) await this.sleep((stepMillis * (1 - this.dutyCycle)) / this.dutyCycle);
    while (this.paused && !this.destroying && !this.aborting)
      await new Promise<void>((resolve) => (this.resume = resolve));
    if (this.destroying) throw new Error('the engine was shut down during training');
    if (this.aborting) throw new TrainingAbortedError();
  }
}
