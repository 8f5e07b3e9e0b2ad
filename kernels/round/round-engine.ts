// A volunteer's GPU side of the run: the model, its inner AdamW state, the compressor and its
// error-feedback residual, and the RoundPeer that holds θ_r and the outer momentum. Built
// from the run config the relay serves, it takes one round at a time in the shape the relay
// assigns it (a token range, a number of inner steps, a learning rate), and is the same object
// in the browser's worker and in the headless Node volunteer.

import type { LocalState } from '../../protocol/local-state-file.ts';
import { modelHash } from '../../protocol/model-hash.ts';
import type { RoundState } from '../../protocol/round-state-file.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import { GpuCompressor } from '../compress/gpu-compressor.ts';
import { createModel } from '../gpt/create-model.ts';
import type { GpuGpt } from '../gpt/gpu-gpt.ts';
import type { TuneCache } from '../gpu/autotune.ts';
import type { GpuContext } from '../gpu/context.ts';
import { AssignedRange } from '../train/assigned-range.ts';
import type { TrainConfig } from '../train/config.ts';
import { Trainer } from '../train/trainer.ts';
import type { RoundOutcome } from './round-peer.ts';
import { RoundPeer } from './round-peer.ts';

export interface RoundWork {
  readonly round: number;
  readonly seed: number;
  /** The assigned token range's tokens. */
  readonly tokens: Uint16Array;
  readonly innerSteps: number;
  readonly learningRate: number;
}

export interface StepProgress {
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly tokensPerSec: number;
}

export interface EngineOptions {
  readonly ctx: GpuContext;
  readonly config: RunConfig;
  /** θ_r and the outer momentum to start from (θ_0 and zeros, or a checkpoint). */
  readonly state: RoundState;
  readonly tuneCache: TuneCache;
  /** Distinct per peer: seeds its stochastic rounding (peers must not round alike). */
  readonly noiseStream: number;
  readonly now?: () => number;
}

export class RoundEngine {
  private destroyed = false;

  private constructor(
    private readonly config: RunConfig,
    private readonly model: GpuGpt,
    private readonly compressor: GpuCompressor,
    private readonly trainer: Trainer,
    private readonly peer: RoundPeer,
    private readonly now: () => number,
  ) {}

  static async create(options: EngineOptions): Promise<RoundEngine> {
    const { ctx, config, state } = options;
    const now = options.now ?? (() => performance.now());
    const { batchSize: B, seqLen: T } = config.inner;
    const model = await createModel(ctx, config.model, {
      B,
      T,
      params: state.weights,
      tuneCache: options.tuneCache,
    });
    const compressor = new GpuCompressor(
      ctx,
      model.layout.totalFloats,
      config.round.compression,
      'volunteer',
    );
    const train: TrainConfig = {
      ...config.inner,
      model: config.model,
      steps: Number.MAX_SAFE_INTEGER,
      warmupSteps: 0,
      evalEvery: Number.MAX_SAFE_INTEGER,
      evalBatches: 1,
      seed: config.seed,
    };
    // One Trainer for the whole run keeps AdamW's step count, so its bias correction stays
    // right; each round hands it that round's range and learning rate (train()).
    const trainer = new Trainer({ model, config: train, now });
    const peer = new RoundPeer({
      id: 'self',
      noiseStream: options.noiseStream,
      model,
      trainer,
      compressor,
      round: config.round,
      weights: state.weights,
    });
    peer.adopt(state.weights, state.momentum);
    return new RoundEngine(config, model, compressor, trainer, peer, now);
  }

  /** Hash of θ_r and the momentum this engine holds. */
  stateHash(): Promise<string> {
    return modelHash(this.peer.weights, this.peer.momentum);
  }

  /** A copy of the committed state (to persist, or to upload as a checkpoint). */
  state(): RoundState {
    return { weights: this.peer.weights.slice(), momentum: this.peer.momentum.slice() };
  }

  /** Takes another peer's or the relay's committed state (a resync or a late join). */
  adopt(state: RoundState): void {
    this.peer.adopt(state.weights, state.momentum);
  }

  /** Steps 2-3 on the assigned range; `pace` runs after each step (pause, throttle). */
  async train(
    work: RoundWork,
    onStep?: (progress: StepProgress) => void,
    pace?: (stepMillis: number) => Promise<void>,
  ): Promise<{ tokens: number; meanLoss: number }> {
    this.check();
    const inputs = {
      data: new AssignedRange(work.tokens, this.config.model.vocabSize),
      learningRate: work.learningRate,
    };
    const tokensPerStep = this.config.inner.batchSize * this.config.inner.seqLen;
    let step = 0;
    let last = this.now();
    const report = await this.peer.train(
      async (loss) => {
        const now = this.now();
        const millis = now - last;
        step++;
        onStep?.({
          step,
          steps: work.innerSteps,
          loss,
          tokensPerSec: (tokensPerStep * 1000) / Math.max(1, millis),
        });
        await pace?.(millis);
        last = this.now();
      },
      work.innerSteps,
      inputs,
    );
    return report;
  }

  /** Step 4: the compressed pseudo-gradient as a wire frame. */
  contribute(work: { round: number; seed: number }): Promise<Uint8Array> {
    this.check();
    return this.peer.contribute(work);
  }

  /** Step 6: apply the round's aggregate frame, take the outer step, hash. */
  finish(work: { round: number; seed: number }, aggregate: Uint8Array): Promise<RoundOutcome> {
    this.check();
    return this.peer.finish(work, aggregate);
  }

  /** This peer's own optimizer and residual state, following committed round `round`. */
  async localState(round: number): Promise<LocalState> {
    const { m, v } = await this.model.readOptimizer();
    return { m, v, residual: await this.compressor.readResidual(), step: this.trainer.step, round };
  }

  /** Restores what localState() saved (a reload, or a restarted Node volunteer). */
  restoreLocalState(state: LocalState): void {
    this.model.setOptimizer(state.m, state.v);
    this.compressor.setResidual(state.residual);
    this.trainer.step = state.step;
  }

  /** The relay committed `hash`: the pending outcome of finish() becomes the state. */
  commit(round: number, hash: string): boolean {
    return this.peer.commit(round, hash);
  }

  /** The round aborted: the state stays θ_r. */
  discard(): void {
    this.peer.discard();
  }

  get paramCount(): number {
    return this.model.layout.paramCount;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.model.destroy();
    this.compressor.destroy();
  }

  private check(): void {
    if (this.destroyed) throw new Error('ERR_ENGINE_DESTROYED: the round engine was destroyed');
  }
}
