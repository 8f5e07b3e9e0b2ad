// The honest peers of bench:byzantine: real RoundPeers (kernels/round/round-peer.ts) on one
// GPU, each with its own model replica, AdamW state and error-feedback residual, training each
// round on the token range the relay assigned it, at the round's learning rate, as a volunteer's
// RoundEngine does: so the relay can redo any of their rounds (relay/rounds/work-check.ts). A
// scenario starts them afresh from θ_0; the GPU objects are made once and reused (moments and
// residual cleared, a new Trainer), so a peer trains exactly as a newly made one would.
import { GpuCompressor } from '../../../kernels/compress/gpu-compressor.ts';
import { createModel } from '../../../kernels/gpt/create-model.ts';
import type { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { TuneCache } from '../../../kernels/gpu/autotune.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { RoundPeer } from '../../../kernels/round/round-peer.ts';
import { AssignedRange } from '../../../kernels/train/assigned-range.ts';
import type { TrainConfig } from '../../../kernels/train/config.ts';
import { Trainer } from '../../../kernels/train/trainer.ts';
import type { LocalState } from '../../../protocol/local-state-file.ts';
import type { RoundConfig, RunConfig } from '../../../protocol/run-config.ts';

export interface HonestSwarmSetup {
  readonly ctx: GpuContext;
  /** The run as the relay serves it: model, inner optimizer, round (its compression). */
  readonly run: RunConfig;
  readonly init: Float32Array;
  readonly tuneCache: TuneCache;
}

/** Peer p's id: honest peers come first, attackers take the ids after them. */
export function peerId(p: number): string {
  return `peer-${String(p).padStart(3, '0')}`;
}

/** One round's work as the relay assigned it. */
export interface AssignedWork {
  readonly tokens: Uint16Array;
  readonly innerSteps: number;
  readonly learningRate: number;
}

/** An honest peer: its RoundPeer, and its own state as it starts a round (what a check asks for). */
export class HonestPeer {
  constructor(
    readonly peer: RoundPeer,
    private readonly model: GpuGpt,
    private readonly compressor: GpuCompressor,
    private readonly trainer: Trainer,
  ) {}

  async startState(round: number): Promise<LocalState> {
    const { m, v } = await this.model.readOptimizer();
    return {
      m,
      v,
      residual: await this.compressor.readResidual(),
      step: this.trainer.step,
      round: round - 1,
    };
  }

  async train(work: AssignedWork): Promise<void> {
    const data = new AssignedRange(work.tokens, this.model.config.vocabSize);
    await this.peer.train(undefined, work.innerSteps, { data, learningRate: work.learningRate });
  }
}

export class HonestSwarm {
  private readonly slots: { model: GpuGpt; compressor: GpuCompressor }[] = [];

  constructor(private readonly setup: HonestSwarmSetup) {}

  /**
   * `count` honest peers at θ_0 with fresh optimizer state and residual, running `round` (its
   * compression must be the run's: the compressors are made for it).
   */
  async fresh(count: number, round: RoundConfig): Promise<HonestPeer[]> {
    const { run, init } = this.setup;
    if (JSON.stringify(round.compression) !== JSON.stringify(run.round.compression))
      throw new RangeError('the honest peers were made for another compression');
    const train: TrainConfig = {
      ...run.inner,
      model: run.model,
      steps: Number.MAX_SAFE_INTEGER,
      warmupSteps: 0,
      evalEvery: Number.MAX_SAFE_INTEGER,
      evalBatches: 1,
      seed: run.seed,
    };
    const peers: HonestPeer[] = [];
    for (let p = 0; p < count; p++) {
      const { model, compressor } = await this.slot(p);
      model.setParams(init);
      model.resetOptimizer();
      compressor.resetResidual();
      const trainer = new Trainer({ model, config: train, now: () => performance.now() });
      const peer = new RoundPeer({
        id: peerId(p),
        noiseStream: p,
        model,
        trainer,
        compressor,
        round,
        weights: init,
      });
      peers.push(new HonestPeer(peer, model, compressor, trainer));
    }
    return peers;
  }

  private async slot(p: number): Promise<{ model: GpuGpt; compressor: GpuCompressor }> {
    const existing = this.slots[p];
    if (existing) return existing;
    const { ctx, run, init, tuneCache } = this.setup;
    const model = await createModel(ctx, run.model, {
      B: run.inner.batchSize,
      T: run.inner.seqLen,
      params: init,
      tuneCache,
    });
    const compressor = new GpuCompressor(ctx, model.layout.totalFloats, run.round.compression, peerId(p));
    const slot = { model, compressor };
    this.slots[p] = slot;
    return slot;
  }

  destroy(): void {
    for (const { model, compressor } of this.slots) {
      model.destroy();
      compressor.destroy();
    }
  }
}
