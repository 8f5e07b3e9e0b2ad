// AdamW builder: the dispatch is recorded once; `update()` writes this step's hyperparameters
// (learning rate, bias corrections, clipping) into its uniform before each run.

import type { Dispatch, GpuContext, Tensor } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { gridFor, requireVec4, withGridEntry } from '../gpu/grid.ts';
import type { AdamWSettings } from '../reference/adamw.ts';
import kernel from '../wgsl/adamw.wgsl?raw';

const source = withGridEntry(kernel);

const WORKGROUP_SIZE = 256;
/** Words in adamw.wgsl's Hyper struct. */
const HYPER_WORDS = 10;

export interface AdamWHyperparameters extends AdamWSettings {
  /** Clip the global gradient norm to this; <= 0 turns clipping off. */
  readonly maxNorm: number;
}

export interface AdamWTensors {
  /** (n) updated in place. */
  readonly params: Tensor;
  /** (n) read only. */
  readonly grads: Tensor;
  /** (n) first moment, zero before step 1, overwritten each step. */
  readonly m: Tensor;
  /** (n) second moment, zero before step 1, overwritten each step. */
  readonly v: Tensor;
  /** GlobalNorm's result ([norm, ...]); needed only when clipping. */
  readonly norm?: Tensor;
}

export class AdamW {
  readonly dispatches: Dispatch[];
  private readonly hyper: GPUBuffer;
  private readonly words = new Uint32Array(HYPER_WORDS);
  private readonly canClip: boolean;

  /** `n` floats (a multiple of 4); elements [0, decayEnd) get weight decay. */
  constructor(
    private readonly ctx: GpuContext,
    t: AdamWTensors,
    { n, decayEnd }: { n: number; decayEnd: number },
    label = 'adamw',
  ) {
    requireVec4(label, n);
    if (!(decayEnd >= 0 && decayEnd <= n))
      throw new GpuError('ERR_SHAPE', `${label}: decayEnd ${decayEnd} is outside [0, ${n}]`);
    this.canClip = t.norm !== undefined;
    // Until update() is called a run changes nothing: lr 0, betas 1 (moments kept),
    // corrections 1 and eps 1 (no 0/0), no decay, no clipping.
    new Float32Array(this.words.buffer).set([0, 1, 1, 1, 0, 1, 1, 0]);
    this.words[8] = decayEnd;
    this.words[9] = n / 4;
    this.hyper = ctx.createUniform(`${label}:hyper`, this.words);
    // Without a norm buffer clipping is refused in update(); the binding still needs a buffer.
    const norm = t.norm ?? ctx.createStorage(`${label}:no-norm`, 4);
    this.dispatches = [
      ctx.dispatch(
        `${label}:step`,
        { name: 'adamw', source, constants: { WORKGROUP_SIZE } },
        [t.params, t.m, t.v, t.grads, norm, this.hyper],
        gridFor(ctx, n / 4, WORKGROUP_SIZE),
      ),
    ];
  }

  /** Writes this step's hyperparameters; call before running `dispatches`. */
  update(h: AdamWHyperparameters): void {
    if (!(Number.isInteger(h.step) && h.step >= 1))
      throw new RangeError(`step must be 1, 2, ..., got ${h.step}`);
    if (h.maxNorm > 0 && !this.canClip)
      throw new RangeError('clipping needs the norm buffer (AdamWTensors.norm)');
    const f = new Float32Array(this.words.buffer);
    f[0] = h.lr;
    f[1] = h.beta1;
    f[2] = h.beta2;
    f[3] = h.eps;
    f[4] = h.weightDecay;
    f[5] = 1 - h.beta1 ** h.step; // in f64, then rounded once
    f[6] = 1 - h.beta2 ** h.step;
    f[7] = h.maxNorm;
    this.ctx.write(this.hyper, this.words);
  }
}
