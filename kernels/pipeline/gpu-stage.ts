// One pipeline stage on the GPU: its share of the parameters (protocol/stage-layout.ts), their gradients
// summed over the step's microbatches, AdamW's moments, and K activation slots (stage-slot.ts).
// The passes are the whole model's own recorders (kernels/gpt/gpu-forward.ts and
// gpu-backward.ts) run over the stage's layers; the stage adds the boundary tensors and the
// accumulation across microbatches.
//
// Accumulation: the model's backward overwrites most parameter gradients (matmul weights, biases,
// LayerNorms, dwpe), which is right for one batch but not for microbatches. So each backward
// writes into `microGrads`, cleared first, and the same submission then adds it into `grads`
// (a copy of `grads` and the residual kernel, out = a + b, which may not write over its own
// input). No new kernel, at the price of two extra stage-sized buffers.
//
// Normalisation: the model's loss is the mean over the batch's B·T positions. A step of M
// microbatches of B sequences scales each microbatch's dlogits by 1/(M·B·T) (the loss kernel's
// gradScale), so that the summed gradients are those of the mean over all M·B·T positions, the
// same as one unsplit batch; the loss reported per microbatch is its own mean, and the mean of
// these M equal-sized means is the batch's mean.

import type { GptConfig } from '../../protocol/gpt-config.ts';
import { WPE, WTE } from '../../protocol/param-layout.ts';
import type { StageLayout } from '../../protocol/stage-layout.ts';
import { allocateGradientScratch, type GradientScratch } from '../gpt/activations.ts';
import { recordBlockBackward, recordHeadBackward } from '../gpt/gpu-backward.ts';
import { recordBlockForward, recordHeadForward } from '../gpt/gpu-forward.ts';
import type { BlockPass } from '../gpt/pass-context.ts';
import type { Dispatch, GpuContext } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { sliceFloats } from '../gpu/slice.ts';
import { AdamW, type AdamWHyperparameters } from '../ops/adamw.ts';
import type { AttentionTuning } from '../ops/attention.ts';
import { crossEntropyForwardBackward } from '../ops/crossentropy.ts';
import { encoderBackward, encoderForward } from '../ops/encoder.ts';
import { GlobalNorm } from '../ops/gradnorm.ts';
import type { TuningChoice } from '../ops/matmul-tuning.ts';
import { residualForward } from '../ops/residual.ts';
import { type Command, submitCommands } from './commands.ts';
import { allocateSlot, type StageSlot, slotBuffers } from './stage-slot.ts';

export interface GpuStageOptions {
  /** Sequences per microbatch. */
  readonly B: number;
  /** Tokens per sequence, at most config.contextLength. */
  readonly T: number;
  readonly matmul: TuningChoice;
  readonly attention?: Partial<AttentionTuning>;
  /** Activation slots: microbatches forwarded and not yet backwarded. Default 1. */
  readonly slots?: number;
  /** Microbatches per optimizer step, for the loss's normalisation (last stage). Default 1. */
  readonly microbatches?: number;
}

/** What a forward pass hands on: the boundary activation, or (last stage) the loss. */
export type StageForwardResult =
  | { readonly type: 'activation'; readonly buffer: GPUBuffer }
  | { readonly type: 'loss'; readonly loss: number };

/** A boundary tensor (B, T, C) received from a neighbour: decoded on the CPU, or on this device. */
export type BoundaryTensor = Float32Array | GPUBuffer;

export class GpuStage {
  readonly B: number;
  readonly T: number;
  /** Local parameters (layout.totalFloats), the tied copy included. */
  readonly params: GPUBuffer;
  /** Gradients summed over this step's microbatches; zeroed by step(). */
  readonly grads: GPUBuffer;
  private readonly microGrads: GPUBuffer;
  private readonly gradsBefore: GPUBuffer;
  private readonly m: GPUBuffer;
  private readonly v: GPUBuffer;
  /** [norm, sum of squares] of the whole model's gradient, written by step(). */
  private readonly clip: GPUBuffer;
  private readonly scratch: GradientScratch;
  private readonly slots: StageSlot[] = [];
  private readonly forwardPasses: Dispatch[][] = [];
  private readonly backwardPasses: Dispatch[][] = [];
  private readonly accumulate: Dispatch[];
  private readonly norm: GlobalNorm;
  private readonly adamw: AdamW;
  /** Microbatch -> the slot holding its activations. */
  private readonly inFlight = new Map<number, number>();
  /** Weights, m and v as takeSnapshot() left them; allocated on first use. */
  private snapshot: GPUBuffer[] | null = null;
  private destroyed = false;

  constructor(
    private readonly ctx: GpuContext,
    readonly config: GptConfig,
    readonly layout: StageLayout,
    options: GpuStageOptions,
  ) {
    const { B, T, slots = 1, microbatches = 1 } = options;
    const V = config.vocabSize;
    if (!(Number.isInteger(T) && T >= 1 && T <= config.contextLength))
      throw new GpuError('ERR_SHAPE', `sequence length ${T} must be in [1, ${config.contextLength}]`);
    if (!(Number.isInteger(B) && B >= 1)) throw new GpuError('ERR_SHAPE', `batch size ${B} must be >= 1`);
    if (!(Number.isInteger(slots) && slots >= 1)) throw new RangeError(`slots must be >= 1, got ${slots}`);
    if (!(Number.isInteger(microbatches) && microbatches >= 1))
      throw new RangeError(`microbatches must be >= 1, got ${microbatches}`);
    if (V % 4 !== 0) throw new GpuError('ERR_SHAPE', `vocabSize ${V} must be a multiple of 4`);
    this.B = B;
    this.T = T;
    const N = B * T;
    const P = layout.totalFloats;
    const owned = P - layout.ownedStart;
    const label = `stage${layout.stage}`;
    this.params = ctx.createStorage(`${label}.params`, P * 4);
    this.grads = ctx.createStorage(`${label}.grads`, P * 4);
    this.microGrads = ctx.createStorage(`${label}.grads.micro`, P * 4);
    this.gradsBefore = ctx.createStorage(`${label}.grads.before`, P * 4);
    this.m = ctx.createStorage(`${label}.adamw.m`, owned * 4);
    this.v = ctx.createStorage(`${label}.adamw.v`, owned * 4);
    this.clip = ctx.createStorage(`${label}.clip`, 2 * 4);
    this.scratch = allocateGradientScratch(ctx, config, N);

    const tensorOf = (buffer: GPUBuffer) => (name: string) => {
      const spec = layout.get(name);
      return sliceFloats(buffer, spec.offset, spec.size);
    };
    const pass: BlockPass = {
      ctx,
      config,
      B,
      T,
      param: tensorOf(this.params),
      grad: tensorOf(this.microGrads),
      matmul: options.matmul,
      attention: options.attention,
    };
    const gradScale = 1 / (microbatches * N);
    for (let k = 0; k < slots; k++) {
      const slot = allocateSlot(ctx, config, layout, B, T, k);
      this.slots.push(slot);
      this.forwardPasses.push(this.recordForward(pass, slot, gradScale));
      this.backwardPasses.push(this.recordBackward(pass, slot));
    }
    this.accumulate = residualForward(
      ctx,
      { out: this.grads, a: this.gradsBefore, b: this.microGrads },
      P,
      `${label}.accumulate`,
    );
    const ownedGrads = sliceFloats(this.grads, layout.ownedStart, owned);
    this.norm = new GlobalNorm(ctx, ownedGrads, owned, { label: `${label}.gradnorm` });
    this.adamw = new AdamW(
      ctx,
      {
        params: sliceFloats(this.params, layout.ownedStart, owned),
        grads: ownedGrads,
        m: this.m,
        v: this.v,
        norm: this.clip,
      },
      { n: owned, decayEnd: layout.decayEnd - layout.ownedStart },
      `${label}.adamw`,
    );
  }

  get slotCount(): number {
    return this.slots.length;
  }

  private recordForward(pass: BlockPass, slot: StageSlot, gradScale: number): Dispatch[] {
    const { ctx, config, B, T } = pass;
    const d: Dispatch[] = [];
    if (slot.tokens)
      d.push(
        ...encoderForward(ctx, { out: slot.input, wte: pass.param(WTE), wpe: pass.param(WPE) }, slot.tokens),
      );
    let residual = slot.input;
    slot.blocks.forEach((block, i) => {
      d.push(...recordBlockForward(pass, this.layout.layers.start + i, block, residual));
      residual = block.residual3;
    });
    if (slot.head) {
      const { head } = slot;
      d.push(...recordHeadForward(pass, head, residual));
      // The loss and dlogits in one kernel, as GpuGpt does: the backward then needs no logits.
      d.push(
        ...crossEntropyForwardBackward(
          ctx,
          { logits: head.logits, losses: head.losses, targets: head.targets },
          { N: B * T, V: config.vocabSize },
          { backward: true, gradScale, label: `stage${this.layout.stage}.crossentropy` },
        ),
      );
    }
    return d;
  }

  private recordBackward(pass: BlockPass, slot: StageSlot): Dispatch[] {
    const s = this.scratch;
    const d: Dispatch[] = [];
    const last = slot.blocks.at(-1)?.residual3 ?? slot.input;
    if (slot.head) d.push(...recordHeadBackward(pass, s, slot.head, last));
    for (let i = slot.blocks.length - 1; i >= 0; i--) {
      const block = slot.blocks[i] as (typeof slot.blocks)[number];
      const residualIn = i === 0 ? slot.input : (slot.blocks[i - 1]?.residual3 as GPUBuffer);
      d.push(...recordBlockBackward(pass, s, this.layout.layers.start + i, block, residualIn));
    }
    // Without the head on this stage nothing has written dwte yet: microGrads is cleared first.
    if (slot.tokens)
      d.push(
        ...encoderBackward(
          pass.ctx,
          { dwte: pass.grad(WTE), dwpe: pass.grad(WPE), dout: s.dresidual },
          slot.tokens,
        ),
      );
    return d;
  }

  /**
   * Forward of one microbatch into a free slot: tokens (B·T) on the first stage, the previous
   * stage's activation (B, T, C) elsewhere; the last stage also takes the targets and resolves to
   * the microbatch's mean loss, having left dlogits for its backward. Other stages resolve to their
   * output (B, T, C), valid until the slot is reused (after this microbatch's backward).
   */
  async forward(
    microbatch: number,
    input: Uint32Array | BoundaryTensor,
    targets?: Uint32Array,
  ): Promise<StageForwardResult> {
    this.assertAlive();
    const { layout, ctx } = this;
    const N = this.B * this.T;
    if (this.inFlight.has(microbatch))
      throw new GpuError('ERR_STATE', `stage ${layout.stage}: microbatch ${microbatch} is already in flight`);
    const k = this.slots.findIndex((_, i) => ![...this.inFlight.values()].includes(i));
    const slot = this.slots[k];
    if (!slot)
      throw new GpuError('ERR_STATE', `stage ${layout.stage}: all ${this.slots.length} slots are in flight`);
    const commands: Command[] = [];
    if (slot.tokens) {
      if (!(input instanceof Uint32Array))
        throw new RangeError(`stage ${layout.stage} is the first: it takes tokens`);
      slot.tokens.writeStepInputs(input);
    } else {
      if (input instanceof Uint32Array) throw new RangeError(`stage ${layout.stage} takes activations`);
      commands.push(...this.boundaryIn(input, slot.input, 'activation'));
    }
    if (slot.head) {
      if (targets?.length !== N) throw new RangeError(`the last stage needs ${N} targets`);
      for (const t of targets)
        if (t >= this.config.vocabSize) throw new RangeError(`target ${t} is outside the vocabulary`);
      ctx.write(slot.head.targets, targets);
    }
    commands.push({ type: 'pass', dispatches: this.forwardPasses[k] as Dispatch[] });
    submitCommands(ctx, `stage${layout.stage}.forward`, commands);
    this.inFlight.set(microbatch, k);
    if (!slot.head) return { type: 'activation', buffer: slot.blocks.at(-1)?.residual3 ?? slot.input };
    const losses = await ctx.readFloats(slot.head.losses, 0, N);
    let sum = 0;
    for (const x of losses) sum += x;
    return { type: 'loss', loss: sum / N };
  }

  /**
   * Backward of a microbatch in flight: `gradOut` is the next stage's gradient of this stage's
   * output (none on the last stage, whose forward left dlogits). Adds the parameter gradients
   * into `grads` and frees the slot. Resolves to the gradient of the stage's input (B, T, C),
   * valid until the next backward, or null on the first stage.
   */
  async backward(microbatch: number, gradOut?: BoundaryTensor): Promise<GPUBuffer | null> {
    this.assertAlive();
    const { layout, ctx, scratch } = this;
    const k = this.inFlight.get(microbatch);
    if (k === undefined)
      throw new GpuError('ERR_STATE', `stage ${layout.stage}: microbatch ${microbatch} was not forwarded`);
    const commands: Command[] = [{ type: 'clear', buffer: this.microGrads }];
    if (layout.isLast) {
      if (gradOut) throw new RangeError('the last stage starts its backward from its own loss');
      commands.push({ type: 'clear', buffer: scratch.dresidual });
    } else {
      if (!gradOut) throw new RangeError(`stage ${layout.stage} needs the next stage's gradient`);
      commands.push(...this.boundaryIn(gradOut, scratch.dresidual, 'gradient'));
    }
    commands.push(
      { type: 'pass', dispatches: this.backwardPasses[k] as Dispatch[] },
      { type: 'copy', from: this.grads, to: this.gradsBefore, bytes: this.grads.size },
      { type: 'pass', dispatches: this.accumulate },
    );
    submitCommands(ctx, `stage${layout.stage}.backward`, commands);
    this.inFlight.delete(microbatch);
    return layout.isFirst ? null : scratch.dresidual;
  }

  /** Copies a received (B, T, C) tensor into `to`: written from the CPU, or copied on the device. */
  private boundaryIn(tensor: BoundaryTensor, to: GPUBuffer, what: string): Command[] {
    const bytes = this.B * this.T * this.config.dModel * 4;
    if (tensor instanceof Float32Array) {
      if (tensor.byteLength !== bytes)
        throw new RangeError(`${what} has ${tensor.length} floats, the stage needs ${bytes / 4}`);
      this.ctx.write(to, tensor);
      return [];
    }
    if (tensor.size < bytes)
      throw new RangeError(`${what} buffer holds ${tensor.size} bytes, needs ${bytes}`);
    return [{ type: 'copy', from: tensor, to, bytes }];
  }

  /** Adds `values` into the summed gradient of tensor `name` (the owner of wte, given the head's part). */
  addGrad(name: string, values: Float32Array): void {
    this.assertAlive();
    const spec = this.layout.get(name);
    if (values.length !== spec.size)
      throw new RangeError(`${name}: ${values.length} floats for ${spec.size}`);
    // The clear must land before the write, so it goes in a submission of its own.
    submitCommands(this.ctx, `stage${this.layout.stage}.add-grad`, [
      { type: 'clear', buffer: this.microGrads },
    ]);
    this.ctx.write(this.microGrads, values, spec.offset * 4);
    submitCommands(this.ctx, `stage${this.layout.stage}.add-grad`, [
      { type: 'copy', from: this.grads, to: this.gradsBefore, bytes: this.grads.size },
      { type: 'pass', dispatches: this.accumulate },
    ]);
  }

  /** Sum of squares of the owned gradients (the tied copy's excluded: its owner counts it). */
  async gradSumOfSquares(): Promise<number> {
    this.assertAlive();
    this.ctx.run(this.norm.dispatches, `stage${this.layout.stage}.gradnorm`);
    const [, sumOfSquares] = await this.ctx.readFloats(this.norm.result, 0, 2);
    return sumOfSquares as number;
  }

  /**
   * AdamW on the owned parameters, the gradients clipped by `globalNorm`, the whole model's
   * gradient norm (every stage must clip by the same factor); then zeroes the gradients.
   */
  step(hyper: AdamWHyperparameters, globalNorm = 0): void {
    this.assertAlive();
    this.ctx.write(this.clip, Float32Array.of(globalNorm, globalNorm * globalNorm));
    this.adamw.update(hyper);
    submitCommands(this.ctx, `stage${this.layout.stage}.step`, [
      { type: 'pass', dispatches: this.adamw.dispatches },
      { type: 'clear', buffer: this.grads },
    ]);
  }

  /**
   * Replaces the summed gradients (local layout): a replica of this stage on another volunteer
   * summed its own with ours, and every replica must step on the same sum.
   */
  setGrads(values: Float32Array): void {
    this.assertAlive();
    if (values.length !== this.layout.totalFloats)
      throw new RangeError(`gradients: ${values.length} floats for ${this.layout.totalFloats}`);
    this.ctx.write(this.grads, values);
  }

  /** Forgets this step's work: gradients zeroed, no microbatch in flight (the step aborted). */
  discardWork(): void {
    this.assertAlive();
    this.inFlight.clear();
    submitCommands(this.ctx, `stage${this.layout.stage}.discard`, [{ type: 'clear', buffer: this.grads }]);
  }

  /**
   * Copies the weights and AdamW moments aside, so that a step taken before the relay commits
   * it can be undone (restoreSnapshot) when the step aborts.
   */
  takeSnapshot(): void {
    this.assertAlive();
    const label = `stage${this.layout.stage}.snapshot`;
    this.snapshot ??= [this.params, this.m, this.v].map((b) => this.ctx.createStorage(label, b.size));
    const [params, m, v] = this.snapshot as [GPUBuffer, GPUBuffer, GPUBuffer];
    submitCommands(this.ctx, label, [
      { type: 'copy', from: this.params, to: params, bytes: this.params.size },
      { type: 'copy', from: this.m, to: m, bytes: this.m.size },
      { type: 'copy', from: this.v, to: v, bytes: this.v.size },
    ]);
  }

  /** Puts back the weights and moments of the last takeSnapshot(). */
  restoreSnapshot(): void {
    this.assertAlive();
    if (!this.snapshot) throw new GpuError('ERR_STATE', `stage ${this.layout.stage}: no snapshot to restore`);
    const [params, m, v] = this.snapshot as [GPUBuffer, GPUBuffer, GPUBuffer];
    submitCommands(this.ctx, `stage${this.layout.stage}.restore`, [
      { type: 'copy', from: params, to: this.params, bytes: this.params.size },
      { type: 'copy', from: m, to: this.m, bytes: this.m.size },
      { type: 'copy', from: v, to: this.v, bytes: this.v.size },
    ]);
  }

  /**
   * Loads a replica's state: the local weights (layout.totalFloats) and the AdamW moments of the
   * owned parameters, as readParams() and readMoments() gave them on another volunteer.
   */
  writeState(params: Float32Array, m: Float32Array, v: Float32Array): void {
    this.assertAlive();
    const owned = this.m.size / 4;
    if (params.length !== this.layout.totalFloats || m.length !== owned || v.length !== owned)
      throw new RangeError(
        `state of ${params.length}/${m.length}/${v.length} floats for ${this.layout.totalFloats}/${owned}/${owned}`,
      );
    this.ctx.write(this.params, params);
    this.ctx.write(this.m, m);
    this.ctx.write(this.v, v);
  }

  /** The AdamW moments of the owned parameters, m then v. */
  async readMoments(): Promise<{ m: Float32Array; v: Float32Array }> {
    this.assertAlive();
    const owned = this.m.size / 4;
    return { m: await this.ctx.readFloats(this.m, 0, owned), v: await this.ctx.readFloats(this.v, 0, owned) };
  }

  /** Loads the stage's share of a whole-model flat buffer (protocol/param-layout.ts). */
  setParams(global: Float32Array): void {
    this.assertAlive();
    this.ctx.write(this.params, this.layout.gather(global));
  }

  /** The local parameter buffer (layout.totalFloats floats). */
  readParams(): Promise<Float32Array> {
    this.assertAlive();
    return this.ctx.readFloats(this.params, 0, this.layout.totalFloats);
  }

  /** The summed gradients, local layout. */
  readGrads(): Promise<Float32Array> {
    this.assertAlive();
    return this.ctx.readFloats(this.grads, 0, this.layout.totalFloats);
  }

  /** One tensor of the parameters or the summed gradients. */
  readTensor(which: 'params' | 'grads', name: string): Promise<Float32Array> {
    this.assertAlive();
    const spec = this.layout.get(name);
    return this.ctx.readFloats(which === 'params' ? this.params : this.grads, spec.offset, spec.size);
  }

  /** Overwrites one parameter tensor (the tied copy, after its owner's step). */
  writeTensor(name: string, values: Float32Array): void {
    this.assertAlive();
    const spec = this.layout.get(name);
    if (values.length !== spec.size)
      throw new RangeError(`${name}: ${values.length} floats for ${spec.size}`);
    this.ctx.write(this.params, values, spec.offset * 4);
  }

  /** Frees every buffer. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const owned = [
      this.params,
      this.grads,
      this.microGrads,
      this.gradsBefore,
      this.m,
      this.v,
      this.clip,
      this.norm.result,
      ...Object.values(this.scratch),
    ];
    for (const slot of this.slots) owned.push(...slotBuffers(slot));
    owned.push(...(this.snapshot ?? []));
    for (const buffer of owned) buffer.destroy();
  }

  private assertAlive(): void {
    if (this.destroyed)
      throw new GpuError('ERR_DEVICE_LOST', `stage ${this.layout.stage} used after destroy()`);
  }
}
