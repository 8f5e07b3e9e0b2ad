// One peer's side of a training round (docs/ARCHITECTURE.md, "One training round", steps 2-6),
// the same code in a browser tab, the headless volunteer and the swarm simulator:
//   train:      start from the global weights θ_r, H steps of AdamW on the peer's own shard
//   contribute: Δ = θ_r − θ_local plus the error-feedback residual, compressed on the GPU,
//               framed for the wire; the residual keeps what the frame does not carry
//   finish:     decode the round's aggregate frame (the relay's robust sum of the counted
//               contributions, protocol/aggregate-frame.ts), take the outer step on the CPU,
//               hash θ_{r+1}
// The GPU holds θ_local, AdamW's moments and the residual; the CPU holds θ_r and the outer
// momentum, where every peer computes the same bits.
import { CodedError } from '../../protocol/coded-error.ts';
import { modelHash } from '../../protocol/model-hash.ts';
import { NesterovOuter } from '../../protocol/outer-optimizer.ts';
import { deriveSeed } from '../../protocol/random-k.ts';
import { applyAggregate } from '../../protocol/round-update.ts';
import type { RoundConfig } from '../../protocol/run-config.ts';
import { encodeTensorFrame } from '../../protocol/tensor-frame.ts';
import type { GpuCompressor } from '../compress/gpu-compressor.ts';
import type { GpuGpt } from '../gpt/gpu-gpt.ts';
import type { StepInputs, Trainer } from '../train/trainer.ts';
import { frameOf, sentValues } from './payload.ts';

export interface RoundPeerOptions {
  readonly id: string;
  /** This peer's stream of stochastic-rounding noise (its index in the run): peers must differ. */
  readonly noiseStream: number;
  readonly model: GpuGpt;
  /** Bound to `model`, the peer's own shard and batch sampler; its step count spans all rounds. */
  readonly trainer: Trainer;
  readonly compressor: GpuCompressor;
  readonly round: RoundConfig;
  /** θ_0, the run's initial weights (copied). */
  readonly weights: Float32Array;
}

/** What the relay hands out with a round (the parts the peer's arithmetic needs). */
export interface RoundAssignment {
  readonly round: number;
  /** The round's shared seed: random-k candidates are regenerated from it. */
  readonly seed: number;
}

export interface RoundOutcome {
  /** SHA-256 of θ_{r+1}: equal on every peer that applied the same aggregate. */
  readonly hash: string;
}

export interface InnerReport {
  readonly tokens: number;
  readonly meanLoss: number;
}

export class RoundPeer {
  readonly id: string;
  /** θ_r: the global weights every peer agrees on at the start of the round. */
  readonly weights: Float32Array;
  private readonly outer: NesterovOuter;
  private pending: { round: number; weights: Float32Array; momentum: Float32Array; hash: string } | null =
    null;

  constructor(private readonly options: RoundPeerOptions) {
    this.id = options.id;
    this.weights = options.weights.slice();
    this.outer = new NesterovOuter(this.weights.length, options.round.outerLr, options.round.outerMomentum);
    if (options.model.layout.totalFloats !== this.weights.length)
      throw new RangeError(
        `${this.weights.length} weights for a model of ${options.model.layout.totalFloats}`,
      );
  }

  /** The outer optimizer's momentum: with the weights, the state every peer must agree on. */
  get momentum(): Float32Array {
    return this.outer.momentum;
  }

  /** Takes the committed state of another peer or the relay's checkpoint (a resync, or a late join). */
  adopt(weights: Float32Array, momentum: Float32Array): void {
    if (weights.length !== this.weights.length || momentum.length !== this.weights.length)
      throw new RangeError(`state of ${weights.length}/${momentum.length} floats for ${this.weights.length}`);
    this.weights.set(weights);
    this.outer.momentum.set(momentum);
    this.pending = null;
  }

  /**
   * Steps 2-3: load θ_r and take H inner steps (`steps`: the relay may size a peer's share), on
   * the trainer's own batches or on `inputs` (the range and learning rate the relay assigned).
   * `from` replaces θ_r as the start when rounds overlap (the frame is then the change from it).
   */
  async train(
    onStep?: (loss: number) => void | Promise<void>,
    steps = this.options.round.innerSteps,
    inputs?: StepInputs,
    from: Float32Array = this.weights,
  ): Promise<InnerReport> {
    const { model, trainer, compressor } = this.options;
    model.setParams(from);
    compressor.setStart(from);
    let tokens = 0;
    let lossSum = 0;
    for (let h = 0; h < steps; h++) {
      const report = await trainer.trainStep(inputs);
      tokens += model.B * model.T;
      lossSum += report.loss;
      await onStep?.(report.loss); // the caller may idle here (throttle, pause)
    }
    return { tokens, meanLoss: lossSum / Math.max(1, steps) };
  }

  /** Step 4: the compressed pseudo-gradient as a wire frame; updates the residual. */
  async contribute(assignment: RoundAssignment): Promise<Uint8Array> {
    const { model, compressor, noiseStream } = this.options;
    const payload = await compressor.compress(
      model.params,
      assignment.seed,
      deriveSeed(assignment.seed, noiseStream),
    );
    compressor.applyErrorFeedback(sentValues(payload));
    return encodeTensorFrame(frameOf(payload, assignment.round));
  }

  /** Step 6: apply the round's aggregate frame, take the outer step, and hash the new weights. */
  async finish(assignment: RoundAssignment, aggregate: Uint8Array): Promise<RoundOutcome> {
    const { model, round } = this.options;
    const expected = {
      round: assignment.round,
      seed: assignment.seed,
      totalFloats: this.weights.length,
      compression: round.compression,
    };
    // θ_{r+1} is computed beside θ_r and kept pending: until the relay commits it, the round
    // may still abort, and then this peer must still hold θ_r.
    const update = applyAggregate(
      this.weights,
      this.outer.momentum,
      aggregate,
      expected,
      model.layout,
      round,
    );
    if (!update.ok) {
      // The relay committed a state from bytes that apply; these do not: θ_r stays, and the
      // commit then finds this peer with another hash and resyncs it.
      this.pending = null;
      throw new CodedError('ERR_ROUND_AGGREGATE', `round ${assignment.round}: ${update.reason}`);
    }
    const hash = await modelHash(update.weights, update.momentum);
    this.pending = { round: assignment.round, weights: update.weights, momentum: update.momentum, hash };
    return { hash };
  }

  /**
   * The relay committed `hash` for `round`: the pending outcome becomes θ_{r+1}. False (and
   * nothing changes) when this peer computed something else; it must then resync.
   */
  commit(round: number, hash: string): boolean {
    const pending = this.pending;
    this.pending = null;
    if (pending?.round !== round || pending.hash !== hash) return false;
    this.weights.set(pending.weights);
    this.outer.momentum.set(pending.momentum);
    return true;
  }

  /** The round aborted: θ_r stays. */
  discard(): void {
    this.pending = null;
  }
}
