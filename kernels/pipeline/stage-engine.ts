// One volunteer's stage of a pipeline-parallel run: a GpuStage (gpu-stage.ts) whose boundary
// tensors come and go as wire bytes, so the same object serves the headless volunteer directly
// and the browser's worker behind comlink. Activations go up and their gradients come down as
// PLTA frames in the run's codecs, quantized on this GPU before read-back and decoded as
// untrusted input (stage-boundary.ts); the end of a step exchanges dense fp32 tensor frames
// (protocol/tensor-frame.ts): each replica's summed gradients, and the tied embedding between
// the first and last stage.
//
// Every frame is tagged with `step`, which the caller sets to the relay's attempt id for the
// step (unique per opening), and a frame tagged otherwise is refused.
//
// The step comes in two calls, with one exchange between them: sumGradients() takes the stage's
// gradient and gives its squared norm, which goes (through the relay) to every other stage;
// applyStep() then clips by the whole model's norm, as the unsplit model does, and steps.
//
// A step is undone when the relay aborts it: the weights and AdamW moments are copied aside
// before the update (takeSnapshot) and put back by rollback().
import { type DecodeResult, refuse } from '../../protocol/frame-errors.ts';
import { initParams } from '../../protocol/init-params.ts';
import { WTE } from '../../protocol/param-layout.ts';
import type { PipelineConfig, RunConfig } from '../../protocol/run-config.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { type LayerRange, type StageLayout, splitLayers, stageLayout } from '../../protocol/stage-layout.ts';
import { decodeTensorFrame, encodeTensorFrame, type TensorKind } from '../../protocol/tensor-frame.ts';
import type { GpuContext } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { defaultTuning } from '../ops/matmul-tuning.ts';
import { sumOfSquares } from '../reference/gradnorm.ts';
import { GpuStage } from './gpu-stage.ts';
import { type MicrobatchPlace, StageBoundary } from './stage-boundary.ts';

/** Peers' frames are untrusted: what they could get wrong comes back as a frame error. */
export type StageResult<T> = DecodeResult<T>;

/** What a forward hands on: the frame for the next stage, or (last stage) the microbatch's mean loss. */
export type StageForward =
  | { readonly type: 'frame'; readonly bytes: Uint8Array }
  | { readonly type: 'loss'; readonly loss: number };

export interface StageEngineOptions {
  readonly ctx: GpuContext;
  readonly config: RunConfig;
  readonly stage: number;
  /** This peer's stochastic-rounding stream (noiseStreamOf(config.seed, its key)). */
  readonly noiseStream: number;
}

const KEEP_ALL = 0xffffffff;

export class StageEngine {
  readonly layout: StageLayout;
  readonly pipeline: PipelineConfig;
  private readonly gpu: GpuStage;
  private readonly boundary: StageBoundary;
  /** Optimizer steps committed: AdamW's bias correction counts them. */
  private steps = 0;
  /** The step whose gradient sumGradients() wrote, until applyStep(), commit or rollback. */
  private summed: number | null = null;
  private stepped = false;

  private constructor(
    private readonly ctx: GpuContext,
    readonly config: RunConfig,
    readonly stage: number,
    noiseStream: number,
  ) {
    const pipeline = config.pipeline;
    if (!pipeline) throw new RangeError('the run config has no pipeline section');
    if (!(Number.isInteger(stage) && stage >= 0 && stage < pipeline.stages))
      throw new RangeError(`stage ${stage} is not in [0, ${pipeline.stages})`);
    this.pipeline = pipeline;
    const split: LayerRange[] = splitLayers(config.model.nLayer, pipeline.stages);
    this.layout = stageLayout(config.model, split, stage);
    const B = pipeline.microbatchSize;
    const T = config.inner.seqLen;
    this.gpu = new GpuStage(ctx, config.model, this.layout, {
      B,
      T,
      matmul: defaultTuning(ctx.adapter),
      // A replica may hold every microbatch of a step in flight when its peers upstream are fast.
      slots: pipeline.microbatches,
      microbatches: pipeline.microbatches,
    });
    this.boundary = new StageBoundary({
      ctx,
      pipeline,
      stage,
      rows: B * T,
      width: config.model.dModel,
      noiseStream,
      label: `stage${stage}`,
    });
    // θ_0 comes from the run's seed, as on every data-parallel peer: no download to start.
    this.gpu.setParams(initParams(config.model, config.seed));
  }

  static create(options: StageEngineOptions): StageEngine {
    return new StageEngine(options.ctx, options.config, options.stage, options.noiseStream);
  }

  private get rows(): number {
    return this.pipeline.microbatchSize * this.config.inner.seqLen;
  }

  /** Microbatch m's inputs and targets from the step's tokens (its sequence i starts at (m·B + i)·T). */
  private window(tokens: Uint32Array, m: number): { inputs: Uint32Array; targets: Uint32Array } {
    const N = this.rows;
    const start = m * N;
    if (start + N + 1 > tokens.length)
      throw new RangeError(
        `microbatch ${m} needs tokens up to ${start + N + 1}, the step has ${tokens.length}`,
      );
    return { inputs: tokens.slice(start, start + N), targets: tokens.slice(start + 1, start + N + 1) };
  }

  /**
   * Forward of microbatch m, which sits at `place`: from the step's tokens on the first stage,
   * else from the previous stage's frame. A frame that does not decode, is not this step's
   * microbatch m coming up this stage's lower boundary from the replica `place` names, or is in
   * a codec the run does not send up, is refused and nothing runs.
   */
  async forward(
    step: number,
    m: number,
    input: { tokens?: Uint32Array; frame?: Uint8Array },
    place: MicrobatchPlace,
  ): Promise<StageResult<StageForward>> {
    const { layout } = this;
    let values: Uint32Array | Float32Array;
    if (layout.isFirst) {
      if (!input.tokens) throw new RangeError('the first stage forwards from tokens');
      values = this.window(input.tokens, m).inputs;
    } else {
      const decoded = this.boundary.decode(input.frame, { step, microbatch: m, direction: 'forward', place });
      if (!decoded.ok) return decoded;
      values = decoded.value;
    }
    let targets: Uint32Array | undefined;
    if (layout.isLast) {
      if (!input.tokens) throw new RangeError('the last stage needs the step tokens for its targets');
      targets = this.window(input.tokens, m).targets;
    }
    this.stepped = false;
    const out = await this.gpu.forward(m, values, targets);
    if (out.type === 'loss') return { ok: true, value: { type: 'loss', loss: out.loss } };
    const frame = { step, microbatch: m, direction: 'forward' as const, place };
    return { ok: true, value: { type: 'frame', bytes: await this.boundary.encode(out.buffer, frame) } };
  }

  /** Backward of microbatch m: from the next stage's gradient frame (none on the last stage). */
  async backward(
    step: number,
    m: number,
    frame: Uint8Array | undefined,
    place: MicrobatchPlace,
  ): Promise<StageResult<Uint8Array | null>> {
    const crossing = { step, microbatch: m, direction: 'backward' as const, place };
    let gradOut: Float32Array | undefined;
    if (!this.layout.isLast) {
      const decoded = this.boundary.decode(frame, crossing);
      if (!decoded.ok) return decoded;
      gradOut = decoded.value;
    }
    const gradIn = await this.gpu.backward(m, gradOut);
    if (!gradIn) return { ok: true, value: null };
    return { ok: true, value: await this.boundary.encode(gradIn, crossing) };
  }

  /** This replica's summed gradients of the step, to send to the stage's other replicas. */
  async gradients(step: number): Promise<Uint8Array> {
    return this.denseFrame('stage-gradients', step, await this.gpu.readGrads());
  }

  /** Last stage: the head's gradient of the tied embedding, for the first stage, which owns it. */
  async tiedGradient(step: number): Promise<Uint8Array> {
    return this.denseFrame('tied-gradient', step, await this.gpu.readTensor('grads', WTE));
  }

  /** First stage, after its step: the tied embedding's new weights, for the last stage's copy. */
  async tiedWeights(step: number): Promise<Uint8Array> {
    return this.denseFrame('tied-weights', step, await this.gpu.readTensor('params', WTE));
  }

  /**
   * The gradient the stage steps on: the replicas' gradient frames summed in the given order
   * (every replica passes the same frames in the same order, its own among them, so all land on
   * the same sum), plus on the first stage the head's tied-embedding gradients. Resolves to its
   * squared L2 norm for the whole model's clip, the last stage's copy of the tied embedding left
   * out (its owner counts it), added up in float64 from the very floats the GPU will step on, so
   * that every replica sends the same number whatever its GPU. Refuses (and changes nothing)
   * when a frame does not decode or does not fit.
   */
  async sumGradients(
    step: number,
    replicaGradients: readonly Uint8Array[],
    tiedGradients: readonly Uint8Array[] = [],
  ): Promise<StageResult<number>> {
    const sum = this.sumFrames(replicaGradients, 'stage-gradients', step, this.layout.totalFloats);
    if (!sum.ok) return sum;
    const grads = sum.value;
    if (tiedGradients.length > 0) {
      // Middle stages hold no embedding, and the last only a copy: the first stage owns it.
      if (!this.layout.isFirst) throw new RangeError('only the first stage owns the tied embedding');
      const wte = this.layout.get(WTE);
      const tied = this.sumFrames(tiedGradients, 'tied-gradient', step, wte.size);
      if (!tied.ok) return tied;
      for (let i = 0; i < wte.size; i++)
        grads[wte.offset + i] = (grads[wte.offset + i] as number) + (tied.value[i] as number);
    }
    this.gpu.setGrads(grads);
    this.summed = step;
    return { ok: true, value: sumOfSquares(grads.subarray(this.layout.ownedStart)) };
  }

  /**
   * AdamW on the gradient sumGradients() took for `step`, clipped as the unsplit model clips:
   * scaled by min(1, gradClip / (gradNorm + 1e-6)) when the run's gradClip is > 0, where
   * `gradNorm` is the whole model's (protocol/stage-grad-norm.ts, from every stage's sum).
   */
  async applyStep(step: number, learningRate: number, gradNorm: number): Promise<void> {
    if (this.summed !== step)
      throw new GpuError('ERR_STATE', `stage ${this.stage}: step ${step} has no summed gradient`);
    if (!(Number.isFinite(gradNorm) && gradNorm >= 0))
      throw new RangeError(`the gradient norm must be finite and >= 0, got ${gradNorm}`);
    this.summed = null;
    this.gpu.takeSnapshot();
    const { inner } = this.config;
    this.gpu.step(
      {
        lr: learningRate,
        beta1: inner.beta1,
        beta2: inner.beta2,
        eps: inner.eps,
        weightDecay: inner.weightDecay,
        step: this.steps + 1,
        maxNorm: inner.gradClip,
      },
      gradNorm,
    );
    this.stepped = true;
  }

  /** Last stage: the first stage's new tied embedding, written over the read-only copy. */
  setTiedWeights(step: number, frame: Uint8Array): StageResult<void> {
    const spec = this.layout.get(WTE);
    const decoded = this.sumFrames([frame], 'tied-weights', step, spec.size);
    if (!decoded.ok) return decoded;
    this.gpu.writeTensor(WTE, decoded.value);
    return { ok: true, value: undefined };
  }

  /**
   * The stage's whole state, for a volunteer that joins as a new replica of it: the weights, the
   * AdamW moments and (in the frame's seed field) AdamW's step count. Taken between steps.
   */
  async exportState(step: number): Promise<Uint8Array> {
    const params = await this.gpu.readParams();
    const { m, v } = await this.gpu.readMoments();
    const all = new Float32Array(params.length + m.length + v.length);
    all.set(params, 0);
    all.set(m, params.length);
    all.set(v, params.length + m.length);
    return this.denseFrame('stage-state', step, all, this.steps);
  }

  /** Becomes a replica of the stage whose state `frame` carries; refuses one that does not fit. */
  importState(step: number, frame: Uint8Array): StageResult<void> {
    const P = this.layout.totalFloats;
    const owned = P - this.layout.ownedStart;
    const decoded = denseValues(frame, 'stage-state', step, P + 2 * owned);
    if (!decoded.ok) return decoded;
    const { values, seed } = decoded.value;
    this.gpu.writeState(values.subarray(0, P), values.subarray(P, P + owned), values.subarray(P + owned));
    this.steps = seed;
    this.stepped = false;
    this.summed = null;
    return { ok: true, value: undefined };
  }

  /** The stage's weights in its local layout (protocol/stage-layout.ts), the tied copy included. */
  readParams(): Promise<Float32Array> {
    return this.gpu.readParams();
  }

  /** SHA-256 of the stage's weights: replicas of a stage compare it after each step. */
  async paramsHash(): Promise<string> {
    const params = await this.gpu.readParams();
    return sha256Hex(new Uint8Array(params.buffer, params.byteOffset, params.byteLength));
  }

  /** The relay committed the step: it stays, and AdamW counts it. */
  commit(): void {
    if (this.stepped) this.steps++;
    this.stepped = false;
    this.summed = null;
    this.boundary.commit();
  }

  /** The relay aborted the step: back to the weights before it, nothing in flight. */
  rollback(): void {
    if (this.stepped) this.gpu.restoreSnapshot();
    this.stepped = false;
    this.summed = null;
    this.gpu.discardWork();
    this.boundary.rollback();
  }

  destroy(): void {
    this.gpu.destroy();
    this.boundary.destroy();
  }

  private denseFrame(kind: TensorKind, step: number, values: Float32Array, seed = 0): Uint8Array {
    return encodeTensorFrame({
      kind,
      round: step,
      seed,
      keepMax: KEEP_ALL,
      paramOffset: 0,
      paramCount: values.length,
      candidateCount: values.length,
      bits: 32,
      blockSize: 32,
      ordinals: null,
      valueCount: values.length,
      scales: new Float32Array(0),
      words: new Uint32Array(values.buffer, values.byteOffset, values.length),
    });
  }

  /** Decodes dense frames of `kind` for `step`, `count` values each, and sums them in order. */
  private sumFrames(
    frames: readonly Uint8Array[],
    kind: TensorKind,
    step: number,
    count: number,
  ): StageResult<Float32Array> {
    const sum = new Float32Array(count);
    for (const bytes of frames) {
      const decoded = denseValues(bytes, kind, step, count);
      if (!decoded.ok) return decoded;
      const { values } = decoded.value;
      for (let i = 0; i < count; i++) sum[i] = (sum[i] as number) + (values[i] as number);
    }
    return { ok: true, value: sum };
  }
}

/** The values (and seed field) of a dense fp32 frame of `kind` for `step` with `count` values. */
function denseValues(
  bytes: Uint8Array,
  kind: TensorKind,
  step: number,
  count: number,
): StageResult<{ values: Float32Array; seed: number }> {
  const decoded = decodeTensorFrame(bytes);
  if (!decoded.ok) return decoded;
  const f = decoded.value;
  if (
    f.kind !== kind ||
    f.round !== step ||
    f.bits !== 32 ||
    f.paramCount !== count ||
    f.valueCount !== count
  )
    return refuse(
      'ERR_FRAME_FIELD',
      `expected a dense ${kind} frame of step ${step} with ${count} values, got ${f.kind} of step ${f.round} with ${f.valueCount}`,
    );
  return {
    ok: true,
    value: { values: new Float32Array(f.words.buffer, f.words.byteOffset, count), seed: f.seed },
  };
}
