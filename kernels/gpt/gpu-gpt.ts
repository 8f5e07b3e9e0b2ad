// GPT-2 on the GPU: the flat parameter, gradient and AdamW state buffers, and the passes
// (forward, backward, optimizer) recorded once for a fixed (B, T) and replayed every step in a
// single compute pass. The op order mirrors kernels/reference/gpt.ts, which it is tested against.

import type { GptConfig } from '../../protocol/gpt-config.ts';
import { type ParamLayout, paramLayout } from '../../protocol/param-layout.ts';
import type { Dispatch, GpuContext } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { sliceFloats } from '../gpu/slice.ts';
import { AdamW, type AdamWHyperparameters } from '../ops/adamw.ts';
import type { AttentionTuning } from '../ops/attention.ts';
import { crossEntropyForwardBackward } from '../ops/crossentropy.ts';
import { EncoderInputs } from '../ops/encoder.ts';
import { GlobalNorm } from '../ops/gradnorm.ts';
import type { TuningChoice } from '../ops/matmul-tuning.ts';
import {
  type Activations,
  allocateActivations,
  allocateGradientScratch,
  type GradientScratch,
} from './activations.ts';
import { recordBackward } from './gpu-backward.ts';
import { recordForward } from './gpu-forward.ts';
import type { PassContext } from './pass-context.ts';

export interface GpuGptOptions {
  /** Sequences per step. */
  readonly B: number;
  /** Tokens per sequence, at most config.contextLength. */
  readonly T: number;
  /** Matmul kernel configuration: a fixed one, or the autotune's per-shape choice. */
  readonly matmul: TuningChoice;
  readonly attention?: Partial<AttentionTuning>;
}

export class GpuGpt {
  readonly layout: ParamLayout;
  readonly B: number;
  readonly T: number;
  /** Flat parameters (layout.totalFloats); the one buffer peers exchange and checkpoints save. */
  readonly params: GPUBuffer;
  /** Gradients of the mean loss, same layout; overwritten by every backward pass. */
  readonly grads: GPUBuffer;
  private readonly m: GPUBuffer;
  private readonly v: GPUBuffer;
  private readonly acts: Activations;
  private readonly scratch: GradientScratch;
  private readonly inputs: EncoderInputs;
  private readonly norm: GlobalNorm;
  private readonly adamw: AdamW;
  private readonly trunk: Dispatch[];
  private readonly lossTrain: Dispatch[];
  private readonly lossEval: Dispatch[];
  private readonly backward: Dispatch[];
  private readonly optimizer: Dispatch[];
  /** Wall time of the last run of each pass, to idle through on polling runtimes. */
  private readonly lastMs = { train: 0, forwardBackward: 0, evaluate: 0 };
  private destroyed = false;

  constructor(
    private readonly ctx: GpuContext,
    readonly config: GptConfig,
    options: GpuGptOptions,
  ) {
    const { B, T } = options;
    const { vocabSize: V, contextLength, dModel: C } = config;
    this.layout = paramLayout(config);
    if (!(Number.isInteger(T) && T >= 1 && T <= contextLength)) {
      throw new GpuError('ERR_SHAPE', `sequence length ${T} must be in [1, contextLength ${contextLength}]`);
    }
    if (!(Number.isInteger(B) && B >= 1)) throw new GpuError('ERR_SHAPE', `batch size ${B} must be >= 1`);
    if (V % 4 !== 0) {
      throw new GpuError(
        'ERR_SHAPE',
        `vocabSize ${V} must be a multiple of 4: pad the vocabulary (GPT-2 pads 50257 to 50304)`,
      );
    }
    this.B = B;
    this.T = T;
    const P = this.layout.totalFloats;
    this.params = ctx.createStorage('params', P * 4);
    this.grads = ctx.createStorage('grads', P * 4);
    this.m = ctx.createStorage('adamw.m', P * 4);
    this.v = ctx.createStorage('adamw.v', P * 4);
    this.acts = allocateActivations(ctx, config, B, T);
    this.scratch = allocateGradientScratch(ctx, config, B * T);
    this.inputs = new EncoderInputs(ctx, { B, T, C, V }, 'encoder');

    const tensorOf = (buffer: GPUBuffer) => (name: string) => {
      const spec = this.layout.get(name);
      return sliceFloats(buffer, spec.offset, spec.size);
    };
    const pass: PassContext = {
      ctx,
      config,
      B,
      T,
      acts: this.acts,
      inputs: this.inputs,
      param: tensorOf(this.params),
      grad: tensorOf(this.grads),
      matmul: options.matmul,
      attention: options.attention,
    };
    this.trunk = recordForward(pass);
    const ce = { logits: this.acts.logits, losses: this.acts.losses, targets: this.acts.targets };
    this.lossTrain = crossEntropyForwardBackward(ctx, ce, { N: B * T, V }, { backward: true });
    this.lossEval = crossEntropyForwardBackward(ctx, ce, { N: B * T, V }, { backward: false, label: 'eval' });
    this.backward = recordBackward(pass, this.scratch);
    this.norm = new GlobalNorm(ctx, this.grads, P);
    this.adamw = new AdamW(
      ctx,
      { params: this.params, grads: this.grads, m: this.m, v: this.v, norm: this.norm.result },
      { n: P, decayEnd: this.layout.decayEnd },
    );
    this.optimizer = [...this.norm.dispatches, ...this.adamw.dispatches];
  }

  /** Replaces every parameter (a flat buffer in `layout`). */
  setParams(params: Float32Array): void {
    this.assertAlive();
    if (params.length !== this.layout.totalFloats) {
      throw new RangeError(`params has ${params.length} floats, the layout needs ${this.layout.totalFloats}`);
    }
    this.ctx.write(this.params, params);
  }

  async readParams(): Promise<Float32Array> {
    this.assertAlive();
    return this.ctx.readFloats(this.params, 0, this.layout.totalFloats);
  }

  async readGrads(): Promise<Float32Array> {
    this.assertAlive();
    return this.ctx.readFloats(this.grads, 0, this.layout.totalFloats);
  }

  /** AdamW's first and second moments (a volunteer keeps them across reloads). */
  async readOptimizer(): Promise<{ m: Float32Array; v: Float32Array }> {
    this.assertAlive();
    const n = this.layout.totalFloats;
    return { m: await this.ctx.readFloats(this.m, 0, n), v: await this.ctx.readFloats(this.v, 0, n) };
  }

  setOptimizer(m: Float32Array, v: Float32Array): void {
    this.assertAlive();
    if (m.length !== this.layout.totalFloats || v.length !== this.layout.totalFloats)
      throw new RangeError(
        `moments of ${m.length}/${v.length} floats, the layout needs ${this.layout.totalFloats}`,
      );
    this.ctx.write(this.m, m);
    this.ctx.write(this.v, v);
  }

  /** Forgets AdamW's moments (a fresh optimizer, e.g. after loading new global weights). */
  resetOptimizer(): void {
    this.assertAlive();
    const encoder = this.ctx.device.createCommandEncoder({ label: 'reset optimizer' });
    encoder.clearBuffer(this.m);
    encoder.clearBuffer(this.v);
    this.ctx.device.queue.submit([encoder.finish()]);
  }

  /** Submits a pass, idles through most of its usual duration, then reads the mean loss. */
  private async timed(pass: 'train' | 'forwardBackward' | 'evaluate', submit: () => void): Promise<number> {
    const start = performance.now();
    submit();
    await this.ctx.idleFor(this.lastMs[pass]);
    const loss = await this.meanLoss();
    this.lastMs[pass] = performance.now() - start;
    return loss;
  }

  /** Mean loss over the batch, computed on the CPU in a fixed order from the per-position losses. */
  private async meanLoss(): Promise<number> {
    const losses = await this.ctx.readFloats(this.acts.losses, 0, this.B * this.T);
    let sum = 0;
    for (const x of losses) sum += x;
    return sum / losses.length;
  }

  private upload(inputs: Uint32Array, targets: Uint32Array): void {
    this.assertAlive();
    const n = this.B * this.T;
    if (targets.length !== n) throw new RangeError(`expected ${n} targets, got ${targets.length}`);
    for (const t of targets) {
      if (t >= this.config.vocabSize) throw new RangeError(`target ${t} is outside the vocabulary`);
    }
    this.inputs.writeStepInputs(inputs);
    this.ctx.write(this.acts.targets, targets);
  }

  /** Forward and backward without an update: fills `grads`. Returns the mean loss. */
  async forwardBackward(inputs: Uint32Array, targets: Uint32Array): Promise<number> {
    this.upload(inputs, targets);
    return this.timed('forwardBackward', () =>
      this.ctx.run([...this.trunk, ...this.lossTrain, ...this.backward], 'forward-backward', [
        this.scratch.dresidual,
      ]),
    );
  }

  /**
   * One training step: forward, backward, global-norm clip and AdamW, in one submission.
   * Returns the batch's mean loss before the update.
   */
  async trainStep(inputs: Uint32Array, targets: Uint32Array, hyper: AdamWHyperparameters): Promise<number> {
    this.upload(inputs, targets);
    this.adamw.update(hyper);
    return this.timed('train', () =>
      this.ctx.run([...this.trunk, ...this.lossTrain, ...this.backward, ...this.optimizer], 'train-step', [
        this.scratch.dresidual,
      ]),
    );
  }

  /** Mean loss without touching gradients or weights. */
  async evaluate(inputs: Uint32Array, targets: Uint32Array): Promise<number> {
    this.upload(inputs, targets);
    return this.timed('evaluate', () => this.ctx.run([...this.trunk, ...this.lossEval], 'evaluate'));
  }

  /** Logits (B, T, V) for `inputs`: for tests and sampling. */
  async logits(inputs: Uint32Array): Promise<Float32Array> {
    this.upload(inputs, new Uint32Array(this.B * this.T));
    this.ctx.run(this.trunk, 'logits');
    return this.ctx.readFloats(this.acts.logits, 0, this.B * this.T * this.config.vocabSize);
  }

  /** The gradient norm before clipping, from the last training step. */
  gradNorm(): Promise<number> {
    return this.norm.read();
  }

  /** Frees every buffer. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const { blocks, ...head } = this.acts;
    const owned = [
      this.params,
      this.grads,
      this.m,
      this.v,
      ...Object.values(head),
      ...Object.values(this.scratch),
    ];
    for (const block of blocks) owned.push(...Object.values(block));
    for (const buffer of owned) buffer.destroy();
  }

  private assertAlive(): void {
    if (this.destroyed) throw new GpuError('ERR_DEVICE_LOST', 'GpuGpt used after destroy()');
  }
}
