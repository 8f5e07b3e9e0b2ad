// Pipeline-parallel training in one process: S GpuStages (kernels/pipeline/gpu-stage.ts) on one
// device, each running its microbatches in the order a stage volunteer does
// (kernels/pipeline/stage-order.ts, through drive-stages.ts), with every boundary tensor crossing an in-memory
// ActivationLink (activation-link.ts) as the encoded frame a peer would send. It is the compute
// core of pipeline parallelism, and the reference a networked pipeline must agree with: with the
// fp32 codec a step equals the unsplit model's step on the same batch.
//
// One step, as in PipeDream-flush: every stage runs its forwards and backwards (the runner gives
// every stage whose next op has its input that op), the head's gradient of the tied embedding goes back to
// the first stage (stage-layout.ts), the stages agree on the global gradient norm (each sends its
// sum of squares), every stage takes its AdamW step, and the first stage's new embedding is
// copied to the head.

import type { GpuContext } from '../../../kernels/gpu/context.ts';
import type { AdamWHyperparameters } from '../../../kernels/ops/adamw.ts';
import type { AttentionTuning } from '../../../kernels/ops/attention.ts';
import type { TuningChoice } from '../../../kernels/ops/matmul-tuning.ts';
import { GpuStage } from '../../../kernels/pipeline/gpu-stage.ts';
import type { StageOp } from '../../../kernels/pipeline/stage-order.ts';
import { type ActivationDirection, isDeltaCodec } from '../../../protocol/activation-frame.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { WTE } from '../../../protocol/param-layout.ts';
import { wholeModelNorm } from '../../../protocol/stage-grad-norm.ts';
import { type LayerRange, stageLayout } from '../../../protocol/stage-layout.ts';
import type { TokenBatch } from '../../../protocol/token-batch.ts';
import { ActivationLink, type LinkCodecs } from './activation-link.ts';
import { stageOps, stageOrder } from './drive-stages.ts';
import { peakInFlight } from './schedule.ts';

export interface PipelineOptions {
  /** Each stage's layers, e.g. splitLayers(config.nLayer, S). */
  readonly split: readonly LayerRange[];
  /** Sequences per microbatch. */
  readonly microbatchSize: number;
  /** Microbatches per step: a step's batch holds microbatches × microbatchSize sequences. */
  readonly microbatches: number;
  /** Tokens per sequence. */
  readonly T: number;
  readonly matmul: TuningChoice;
  readonly attention?: Partial<AttentionTuning>;
  /** What crosses each boundary; default fp32 both ways (no compression). */
  readonly codecs?: LinkCodecs;
  /** Values per quantization scale; default 128. */
  readonly blockSize?: number;
  /** Bytes of delta bases each end of a link keeps per direction; default 64 MiB. */
  readonly cacheBytes?: number;
}

export interface PipelineStepReport {
  /** Mean loss over the batch (the mean of the microbatches' means, all the same size). */
  readonly loss: number;
  readonly microbatchLosses: readonly number[];
  readonly tokens: number;
  /** Per boundary: frame bytes that crossed per token of the batch, activations up. */
  readonly forwardBytesPerToken: readonly number[];
  /** Per boundary: likewise, activation gradients down. */
  readonly backwardBytesPerToken: readonly number[];
  /** Per boundary and direction: frames sent as deltas against the cached base. */
  readonly deltaFrames: readonly { readonly forward: number; readonly backward: number }[];
  /** fp32 bytes of the tied embedding's gradient (down) and new weights (up) per step. */
  readonly tiedBytes: number;
  /** The global gradient norm before clipping, when the step clipped. */
  readonly gradNorm?: number;
}

export class PipelineRunner {
  readonly stages: readonly GpuStage[];
  readonly links: readonly ActivationLink[];
  /** Each stage's ops in the order it runs them. */
  readonly order: readonly (readonly StageOp[])[];
  private round = 0;
  private destroyed = false;

  constructor(
    ctx: GpuContext,
    readonly config: GptConfig,
    readonly options: PipelineOptions,
  ) {
    const { split, microbatchSize: B, microbatches: M, T } = options;
    const S = split.length;
    this.order = stageOrder(S, M);
    const codecs = options.codecs ?? { forward: 'fp32', backward: 'fp32' };
    this.stages = split.map(
      (_, s) =>
        new GpuStage(ctx, config, stageLayout(config, split, s), {
          B,
          T,
          matmul: options.matmul,
          attention: options.attention,
          slots: peakInFlight(this.order[s] ?? []),
          microbatches: M,
        }),
    );
    this.links = Array.from(
      { length: S - 1 },
      (_, boundary) =>
        new ActivationLink(ctx, {
          boundary,
          rows: B * T,
          width: config.dModel,
          codecs,
          blockSize: options.blockSize,
          cacheBytes: options.cacheBytes,
        }),
    );
  }

  private get first(): GpuStage {
    return this.stages[0] as GpuStage;
  }

  private get last(): GpuStage {
    return this.stages.at(-1) as GpuStage;
  }

  /** Loads a whole-model flat buffer (protocol/param-layout.ts) into every stage. */
  setParams(params: Float32Array): void {
    for (const stage of this.stages) stage.setParams(params);
  }

  /** The whole model's flat parameter buffer, assembled from the stages. */
  async readParams(): Promise<Float32Array> {
    return this.assemble((stage) => stage.readParams());
  }

  /** The whole model's summed gradients (after forwardBackward, before the step). */
  async readGrads(): Promise<Float32Array> {
    return this.assemble((stage) => stage.readGrads());
  }

  private async assemble(read: (stage: GpuStage) => Promise<Float32Array>): Promise<Float32Array> {
    const global = new Float32Array(this.first.layout.global.totalFloats);
    for (const stage of this.stages) stage.layout.scatter(await read(stage), global);
    return global;
  }

  /**
   * Every stage's forwards and backwards for `batch`, gradients summed and the tied embedding's
   * gathered on its owner; no update. `sampleIds[i]` is the data position of sequence i: a
   * microbatch's first one keys the delta codecs' caches (required with a delta codec).
   */
  async forwardBackward(batch: TokenBatch, sampleIds?: ArrayLike<number>): Promise<PipelineStepReport> {
    this.assertAlive();
    const { microbatchSize: B, microbatches: M, T } = this.options;
    if (batch.batchSize !== B * M || batch.seqLen !== T)
      throw new RangeError(
        `batch is (${batch.batchSize}, ${batch.seqLen}), the pipeline takes (${B * M}, ${T})`,
      );
    const codecs = this.options.codecs;
    const delta = codecs && (isDeltaCodec(codecs.forward) || isDeltaCodec(codecs.backward));
    if (delta && sampleIds?.length !== B * M)
      throw new RangeError(`delta codecs need the ${B * M} sequences' sample ids`);
    const tokens = (m: number, of: Uint32Array) => of.subarray(m * B * T, (m + 1) * B * T);
    const header = (m: number) => ({
      round: this.round,
      microbatch: m,
      sampleIdBase: sampleIds ? (sampleIds[m * B] as number) : m * B,
    });
    for (const link of this.links) link.resetTraffic();

    const losses = new Array<number>(M).fill(Number.NaN);
    const run = async (s: number, op: StageOp) => {
      const stage = this.stages[s] as GpuStage;
      const m = op.microbatch;
      if (op.type === 'forward') {
        const input = s === 0 ? tokens(m, batch.inputs) : this.linkBelow(s).receive('forward', m);
        const out = await stage.forward(m, input, stage.layout.isLast ? tokens(m, batch.targets) : undefined);
        if (out.type === 'loss') losses[m] = out.loss;
        else await this.linkAbove(s).send('forward', out.buffer, header(m));
      } else {
        const gradOut = stage.layout.isLast ? undefined : this.linkAbove(s).receive('backward', m);
        const gradIn = await stage.backward(m, gradOut);
        if (gradIn) await this.linkBelow(s).send('backward', gradIn, header(m));
      }
    };
    await this.runSchedule(run);

    let tiedBytes = 0;
    if (this.last.layout.tiedCopy) {
      const grad = await this.last.readTensor('grads', WTE);
      this.first.addGrad(WTE, grad);
      tiedBytes += grad.byteLength;
    }
    const tokenCount = B * M * T;
    const perToken = (direction: ActivationDirection) =>
      this.links.map((link) => link.traffic(direction).bytes / tokenCount);
    return {
      loss: losses.reduce((a, b) => a + b, 0) / M,
      microbatchLosses: losses,
      tokens: tokenCount,
      forwardBytesPerToken: perToken('forward'),
      backwardBytesPerToken: perToken('backward'),
      deltaFrames: this.links.map((link) => ({
        forward: link.traffic('forward').deltaFrames,
        backward: link.traffic('backward').deltaFrames,
      })),
      tiedBytes,
    };
  }

  /** One optimizer step on `batch`: forwardBackward, the global clip, AdamW on every stage. */
  async trainStep(
    batch: TokenBatch,
    hyper: AdamWHyperparameters,
    sampleIds?: ArrayLike<number>,
  ): Promise<PipelineStepReport> {
    const report = await this.forwardBackward(batch, sampleIds);
    let gradNorm: number | undefined;
    if (hyper.maxNorm > 0) {
      // Every stage must scale by the same factor, so the norm is the whole model's: each stage
      // contributes its sum of squares (one number through the relay), summed in stage order.
      const sums: number[] = [];
      for (const stage of this.stages) sums.push(await stage.gradSumOfSquares());
      gradNorm = wholeModelNorm(sums);
    }
    for (const stage of this.stages) stage.step(hyper, gradNorm);
    let tiedBytes = report.tiedBytes;
    if (this.last.layout.tiedCopy) {
      const weights = await this.first.readTensor('params', WTE);
      this.last.writeTensor(WTE, weights);
      tiedBytes += weights.byteLength;
    }
    this.round++;
    return { ...report, tiedBytes, ...(gradNorm === undefined ? {} : { gradNorm }) };
  }

  /** Runs the stages' ops in the volunteers' order, each when its input has crossed its link. */
  private async runSchedule(run: (s: number, op: StageOp) => Promise<void>): Promise<void> {
    const waiting = (s: number, type: StageOp['type'], m: number) =>
      (type === 'forward' ? this.linkBelow(s) : this.linkAbove(s)).peek(type) === m;
    for (const [s, op] of stageOps(this.stages.length, this.options.microbatches, waiting)) await run(s, op);
  }

  private linkBelow(s: number): ActivationLink {
    return this.links[s - 1] as ActivationLink;
  }

  private linkAbove(s: number): ActivationLink {
    return this.links[s] as ActivationLink;
  }

  /** Frees every stage and link. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const stage of this.stages) stage.destroy();
    for (const link of this.links) link.destroy();
  }

  private assertAlive(): void {
    if (this.destroyed) throw new Error('PipelineRunner used after destroy()');
  }
}
