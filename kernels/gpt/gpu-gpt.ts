// GPT-2 on the GPU: the flat parameter, gradient and AdamW state buffers, and the passes
// (forward, backward, optimizer) recorded once for a fixed (B, T) and replayed every step in a
// single compute pass. The op order mirrors kernels/reference/gpt.ts, which it is tested against.
import type { Dispatch, GpuContext } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { sliceFloats } from '../gpu/slice.ts';
import { AdamW, type AdamWHyperparameters } from '../ops/adamw.ts';
import { type AttentionTuning, attentionBackward, attentionForward } from '../ops/attention.ts';
import { crossEntropyForwardBackward } from '../ops/crossentropy.ts';
import { EncoderInputs, encoderBackward, encoderForward } from '../ops/encoder.ts';
import { geluBackward, geluForward } from '../ops/gelu.ts';
import { GlobalNorm } from '../ops/gradnorm.ts';
import { layernormBackward, layernormForward } from '../ops/layernorm.ts';
import { classifierBackward, classifierForward, linearBackward, linearForward } from '../ops/matmul.ts';
import type { TuningChoice } from '../ops/matmul-tuning.ts';
import { residualForward } from '../ops/residual.ts';
import {
  type Activations,
  allocateActivations,
  allocateGradientScratch,
  type GradientScratch,
} from './activations.ts';
import type { GptConfig } from './config.ts';
import { blockNames, LNF_BIAS, LNF_WEIGHT, type ParamLayout, paramLayout, WPE, WTE } from './layout.ts';

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

    this.trunk = this.recordTrunk(options);
    const ce = { logits: this.acts.logits, losses: this.acts.losses, targets: this.acts.targets };
    this.lossTrain = crossEntropyForwardBackward(ctx, ce, { N: B * T, V }, { backward: true });
    this.lossEval = crossEntropyForwardBackward(ctx, ce, { N: B * T, V }, { backward: false, label: 'eval' });
    this.backward = this.recordBackward(options);
    this.norm = new GlobalNorm(ctx, this.grads, P);
    this.adamw = new AdamW(
      ctx,
      { params: this.params, grads: this.grads, m: this.m, v: this.v, norm: this.norm.result },
      { n: P, decayEnd: this.layout.decayEnd },
    );
    this.optimizer = [...this.norm.dispatches, ...this.adamw.dispatches];
  }

  /** A tensor of the flat parameter (or gradient) buffer, for binding. */
  private tensor(buffer: GPUBuffer, name: string) {
    const spec = this.layout.get(name);
    return sliceFloats(buffer, spec.offset, spec.size);
  }

  /** Embedding, blocks, final LayerNorm and logits: everything before the loss. */
  private recordTrunk({ matmul, attention }: GpuGptOptions): Dispatch[] {
    const { ctx, config, acts, B, T } = this;
    const { dModel: C, nHead: NH, vocabSize: V } = config;
    const N = B * T;
    const p = (name: string) => this.tensor(this.params, name);
    const d: Dispatch[] = [];
    d.push(...encoderForward(ctx, { out: acts.encoded, wte: p(WTE), wpe: p(WPE) }, this.inputs));
    let residual = acts.encoded;
    acts.blocks.forEach((a, l) => {
      const n = blockNames(l);
      const label = `h.${l}`;
      d.push(
        ...layernormForward(
          ctx,
          { out: a.ln1, mean: a.ln1Mean, rstd: a.ln1Rstd, inp: residual, weight: p(n.ln1w), bias: p(n.ln1b) },
          { N, C },
          `${label}.ln1`,
        ),
        ...linearForward(
          ctx,
          {
            out: a.qkv,
            inp: a.ln1,
            weight: p(n.qkvw),
            bias: p(n.qkvb),
            M: N,
            K: C,
            N: 3 * C,
            label: `${label}.qkv`,
          },
          matmul,
        ),
        ...attentionForward(
          ctx,
          { out: a.atty, lse: a.lse, qkv: a.qkv, B, T, C, NH, label: `${label}.attn` },
          attention,
        ),
        ...linearForward(
          ctx,
          {
            out: a.attproj,
            inp: a.atty,
            weight: p(n.attprojw),
            bias: p(n.attprojb),
            M: N,
            K: C,
            N: C,
            label: `${label}.attproj`,
          },
          matmul,
        ),
        ...residualForward(ctx, { out: a.residual2, a: residual, b: a.attproj }, N * C, `${label}.residual2`),
        ...layernormForward(
          ctx,
          {
            out: a.ln2,
            mean: a.ln2Mean,
            rstd: a.ln2Rstd,
            inp: a.residual2,
            weight: p(n.ln2w),
            bias: p(n.ln2b),
          },
          { N, C },
          `${label}.ln2`,
        ),
        ...linearForward(
          ctx,
          {
            out: a.fch,
            inp: a.ln2,
            weight: p(n.fcw),
            bias: p(n.fcb),
            M: N,
            K: C,
            N: 4 * C,
            label: `${label}.fc`,
          },
          matmul,
        ),
        ...geluForward(ctx, { out: a.fchGelu, inp: a.fch }, N * 4 * C, `${label}.gelu`),
        ...linearForward(
          ctx,
          {
            out: a.fcproj,
            inp: a.fchGelu,
            weight: p(n.fcprojw),
            bias: p(n.fcprojb),
            M: N,
            K: 4 * C,
            N: C,
            label: `${label}.fcproj`,
          },
          matmul,
        ),
        ...residualForward(
          ctx,
          { out: a.residual3, a: a.residual2, b: a.fcproj },
          N * C,
          `${label}.residual3`,
        ),
      );
      residual = a.residual3;
    });
    d.push(
      ...layernormForward(
        ctx,
        {
          out: acts.lnf,
          mean: acts.lnfMean,
          rstd: acts.lnfRstd,
          inp: residual,
          weight: p(LNF_WEIGHT),
          bias: p(LNF_BIAS),
        },
        { N, C },
        'lnf',
      ),
      classifierForward(ctx, { logits: acts.logits, x: acts.lnf, wte: p(WTE), M: N, C, V }, matmul),
    );
    return d;
  }

  /** Backward from dlogits (left in the logits buffer by the loss) to every parameter gradient. */
  private recordBackward({ matmul, attention }: GpuGptOptions): Dispatch[] {
    const { ctx, config, acts, scratch: s, B, T } = this;
    const { dModel: C, nHead: NH, vocabSize: V } = config;
    const N = B * T;
    const p = (name: string) => this.tensor(this.params, name);
    const g = (name: string) => this.tensor(this.grads, name);
    const d: Dispatch[] = [];
    // logits = lnf @ wte^T. dwte is written here; the embedding's backward adds to it last.
    d.push(
      ...classifierBackward(
        ctx,
        { dx: s.dlnf, dwte: g(WTE), dlogits: acts.logits, x: acts.lnf, wte: p(WTE), M: N, C, V },
        matmul,
      ),
    );
    const lastResidual = acts.blocks.at(-1)?.residual3 ?? acts.encoded;
    // dresidual is zeroed at the start of every step (GpuContext.run's `clear`).
    d.push(
      ...layernormBackward(
        ctx,
        {
          dinp: s.dresidual,
          dweight: g(LNF_WEIGHT),
          dbias: g(LNF_BIAS),
          dout: s.dlnf,
          inp: lastResidual,
          weight: p(LNF_WEIGHT),
          mean: acts.lnfMean,
          rstd: acts.lnfRstd,
        },
        { N, C },
        'lnf',
      ),
    );
    for (let l = config.nLayer - 1; l >= 0; l--) {
      const a = acts.blocks[l];
      if (!a) continue;
      const n = blockNames(l);
      const label = `h.${l}`;
      const residualIn = l === 0 ? acts.encoded : (acts.blocks[l - 1]?.residual3 as GPUBuffer);
      // residual3 = residual2 + fcproj: dresidual is the gradient of both.
      d.push(
        ...linearBackward(
          ctx,
          {
            dinp: s.dfchGelu,
            dweight: g(n.fcprojw),
            dbias: g(n.fcprojb),
            dout: s.dresidual,
            inp: a.fchGelu,
            weight: p(n.fcprojw),
            M: N,
            K: 4 * C,
            N: C,
            label: `${label}.fcproj`,
          },
          matmul,
        ),
        ...geluBackward(ctx, { dinp: s.dfch, inp: a.fch, dout: s.dfchGelu }, N * 4 * C, `${label}.gelu`),
        ...linearBackward(
          ctx,
          {
            dinp: s.dlnf,
            dweight: g(n.fcw),
            dbias: g(n.fcb),
            dout: s.dfch,
            inp: a.ln2,
            weight: p(n.fcw),
            M: N,
            K: C,
            N: 4 * C,
            label: `${label}.fc`,
          },
          matmul,
        ),
        // dresidual += LayerNorm backward: now the gradient of residual2.
        ...layernormBackward(
          ctx,
          {
            dinp: s.dresidual,
            dweight: g(n.ln2w),
            dbias: g(n.ln2b),
            dout: s.dlnf,
            inp: a.residual2,
            weight: p(n.ln2w),
            mean: a.ln2Mean,
            rstd: a.ln2Rstd,
          },
          { N, C },
          `${label}.ln2`,
        ),
        // residual2 = residualIn + attproj.
        ...linearBackward(
          ctx,
          {
            dinp: s.datty,
            dweight: g(n.attprojw),
            dbias: g(n.attprojb),
            dout: s.dresidual,
            inp: a.atty,
            weight: p(n.attprojw),
            M: N,
            K: C,
            N: C,
            label: `${label}.attproj`,
          },
          matmul,
        ),
        ...attentionBackward(
          ctx,
          {
            dqkv: s.dqkv,
            dout: s.datty,
            qkv: a.qkv,
            out: a.atty,
            lse: a.lse,
            B,
            T,
            C,
            NH,
            label: `${label}.attn`,
          },
          attention,
        ),
        ...linearBackward(
          ctx,
          {
            dinp: s.dlnf,
            dweight: g(n.qkvw),
            dbias: g(n.qkvb),
            dout: s.dqkv,
            inp: a.ln1,
            weight: p(n.qkvw),
            M: N,
            K: C,
            N: 3 * C,
            label: `${label}.qkv`,
          },
          matmul,
        ),
        // dresidual += LayerNorm backward: now the gradient of the block's input.
        ...layernormBackward(
          ctx,
          {
            dinp: s.dresidual,
            dweight: g(n.ln1w),
            dbias: g(n.ln1b),
            dout: s.dlnf,
            inp: residualIn,
            weight: p(n.ln1w),
            mean: a.ln1Mean,
            rstd: a.ln1Rstd,
          },
          { N, C },
          `${label}.ln1`,
        ),
      );
    }
    d.push(...encoderBackward(ctx, { dwte: g(WTE), dwpe: g(WPE), dout: s.dresidual }, this.inputs));
    return d;
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

  /** Forgets AdamW's moments (a fresh optimizer, e.g. after loading new global weights). */
  resetOptimizer(): void {
    this.assertAlive();
    const encoder = this.ctx.device.createCommandEncoder({ label: 'reset optimizer' });
    encoder.clearBuffer(this.m);
    encoder.clearBuffer(this.v);
    this.ctx.device.queue.submit([encoder.finish()]);
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
    this.ctx.run([...this.trunk, ...this.lossTrain, ...this.backward], 'forward-backward', [
      this.scratch.dresidual,
    ]);
    return this.meanLoss();
  }

  /**
   * One training step: forward, backward, global-norm clip and AdamW, in one submission.
   * Returns the batch's mean loss before the update.
   */
  async trainStep(inputs: Uint32Array, targets: Uint32Array, hyper: AdamWHyperparameters): Promise<number> {
    this.upload(inputs, targets);
    this.adamw.update(hyper);
    this.ctx.run([...this.trunk, ...this.lossTrain, ...this.backward, ...this.optimizer], 'train-step', [
      this.scratch.dresidual,
    ]);
    return this.meanLoss();
  }

  /** Mean loss without touching gradients or weights. */
  async evaluate(inputs: Uint32Array, targets: Uint32Array): Promise<number> {
    this.upload(inputs, targets);
    this.ctx.run([...this.trunk, ...this.lossEval], 'evaluate');
    return this.meanLoss();
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
