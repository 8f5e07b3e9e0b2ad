// Fused softmax + cross-entropy builder. losses (N) are overwritten; with `backward` the
// logits (N, Vp) are overwritten in place by dlogits = (softmax - onehot) * gradScale, and
// padding columns [V, Vp) by 0.

import type { Dispatch, GpuContext, Tensor } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { gridFor, requireVec4, withGridEntry } from '../gpu/grid.ts';
import kernel from '../wgsl/crossentropy_forward_backward.wgsl?raw';

const source = withGridEntry(kernel);

const WORKGROUP_SIZE = 64;

export interface CrossEntropyShape {
  /** Rows (B * T). */
  readonly N: number;
  /** Vocabulary size: real logits per row. */
  readonly V: number;
  /** Row stride of the logits in floats, a multiple of 4 and >= V. Default V. */
  readonly Vp?: number;
}

export interface CrossEntropyOptions {
  /** Write dlogits over the logits (training); false for evaluation. Default true. */
  readonly backward?: boolean;
  /** Multiplies the gradient; default 1/N, the gradient of the mean loss. */
  readonly gradScale?: number;
  readonly label?: string;
}

/** losses (N) = -log softmax(logits)[target]; logits (N, Vp) <- dlogits when `backward`. */
export function crossEntropyForwardBackward(
  ctx: GpuContext,
  t: { logits: Tensor; losses: Tensor; targets: Tensor },
  { N, V, Vp = V }: CrossEntropyShape,
  { backward = true, gradScale = 1 / N, label = 'crossentropy' }: CrossEntropyOptions = {},
): Dispatch[] {
  requireVec4(`${label} row stride Vp`, Vp);
  if (!(V >= 1 && V <= Vp)) throw new GpuError('ERR_SHAPE', `${label}: V ${V} must lie in [1, Vp ${Vp}]`);
  const words = new Uint32Array([N, V, Vp / 4, 0]);
  new Float32Array(words.buffer)[3] = gradScale; // the f32 field of a mixed u32/f32 uniform
  const params = ctx.createUniform(`${label}:params`, words);
  const mode = backward ? 'forward_backward' : 'forward';
  return [
    ctx.dispatch(
      `${label}:${mode}`,
      {
        name: 'crossentropy_forward_backward',
        source,
        constants: { WORKGROUP_SIZE, BACKWARD: backward ? 1 : 0 },
      },
      [t.logits, t.losses, t.targets, params],
      gridFor(ctx, N, WORKGROUP_SIZE),
    ),
  ];
}
