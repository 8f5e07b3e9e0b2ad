// GELU builders (tanh approximation). Both outputs are overwritten; n must divide by 4.

import type { Dispatch, GpuContext, Tensor } from '../gpu/context.ts';
import { gridFor, requireVec4 } from '../gpu/grid.ts';
import backwardSource from '../wgsl/gelu_backward.wgsl?raw';
import forwardSource from '../wgsl/gelu_forward.wgsl?raw';

const WORKGROUP_SIZE = 256;

/** out (n) = gelu(inp). Overwrites out. */
export function geluForward(
  ctx: GpuContext,
  t: { out: Tensor; inp: Tensor },
  n: number,
  label = 'gelu',
): Dispatch[] {
  requireVec4(label, n);
  const params = ctx.createUniform(`${label}:params`, [n / 4]);
  return [
    ctx.dispatch(
      `${label}:forward`,
      { name: 'gelu_forward', source: forwardSource, constants: { WORKGROUP_SIZE } },
      [t.out, t.inp, params],
      gridFor(ctx, n / 4, WORKGROUP_SIZE),
    ),
  ];
}

/** dinp (n) = gelu'(inp) * dout. Overwrites dinp. */
export function geluBackward(
  ctx: GpuContext,
  t: { dinp: Tensor; inp: Tensor; dout: Tensor },
  n: number,
  label = 'gelu',
): Dispatch[] {
  requireVec4(label, n);
  const params = ctx.createUniform(`${label}:params`, [n / 4]);
  return [
    ctx.dispatch(
      `${label}:backward`,
      { name: 'gelu_backward', source: backwardSource, constants: { WORKGROUP_SIZE } },
      [t.dinp, t.inp, t.dout, params],
      gridFor(ctx, n / 4, WORKGROUP_SIZE),
    ),
  ];
}
