// The honest peers of bench:byzantine: real RoundPeers (kernels/round/round-peer.ts) on one
// GPU, each with its own model replica, AdamW state, shard, batch stream and error-feedback
// residual. A scenario starts them afresh from θ_0; the GPU objects are made once and reused
// (moments and residual cleared, a new Trainer with the peer's batch stream from its start), so
// a peer trains exactly as a newly made one would.
import { GpuCompressor } from '../../../kernels/compress/gpu-compressor.ts';
import { createModel } from '../../../kernels/gpt/create-model.ts';
import type { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { TuneCache } from '../../../kernels/gpu/autotune.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { RoundPeer } from '../../../kernels/round/round-peer.ts';
import type { TrainConfig } from '../../../kernels/train/config.ts';
import { type RandomSplit, randomBatches, Trainer } from '../../../kernels/train/trainer.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import type { RoundConfig } from '../../../protocol/run-config.ts';
import { peerRng } from '../swarm/peer-data.ts';

export interface HonestSwarmSetup {
  readonly ctx: GpuContext;
  readonly model: GptConfig;
  /** One training shard per peer slot. */
  readonly shards: readonly RandomSplit[];
  /** Batch shape and the inner schedule; `steps` spans every round. */
  readonly train: TrainConfig;
  readonly round: RoundConfig;
  readonly init: Float32Array;
  readonly tuneCache: TuneCache;
}

/** Peer p's id: honest peers come first, attackers take the ids after them. */
export function peerId(p: number): string {
  return `peer-${String(p).padStart(3, '0')}`;
}

export class HonestSwarm {
  private readonly slots: { model: GpuGpt; compressor: GpuCompressor }[] = [];

  constructor(private readonly setup: HonestSwarmSetup) {}

  /**
   * `count` honest peers at θ_0 with fresh optimizer state and batch streams, running `round`
   * (its compression must be the setup's: the compressors are made for it).
   */
  async fresh(count: number, round: RoundConfig): Promise<RoundPeer[]> {
    const { train, init } = this.setup;
    if (JSON.stringify(round.compression) !== JSON.stringify(this.setup.round.compression))
      throw new RangeError('the honest peers were made for another compression');
    const peers: RoundPeer[] = [];
    for (let p = 0; p < count; p++) {
      const { model, compressor } = await this.slot(p);
      model.setParams(init);
      model.resetOptimizer();
      compressor.resetResidual();
      const shard = this.setup.shards[p];
      if (!shard) throw new RangeError(`no shard for peer ${p}`);
      const trainer = new Trainer({
        model,
        config: train,
        train: randomBatches(shard, peerRng(train.seed, p)),
        now: () => performance.now(),
      });
      peers.push(
        new RoundPeer({ id: peerId(p), noiseStream: p, model, trainer, compressor, round, weights: init }),
      );
    }
    return peers;
  }

  private async slot(p: number): Promise<{ model: GpuGpt; compressor: GpuCompressor }> {
    const existing = this.slots[p];
    if (existing) return existing;
    const { ctx, train, round, init, tuneCache } = this.setup;
    const model = await createModel(ctx, this.setup.model, {
      B: train.batchSize,
      T: train.seqLen,
      params: init,
      tuneCache,
    });
    const compressor = new GpuCompressor(ctx, model.layout.totalFloats, round.compression, peerId(p));
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
