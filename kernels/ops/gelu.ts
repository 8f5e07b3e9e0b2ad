// GELU builders (tanh approximation). Both outputs are overwritten; n must divide by 4.

import type { Dispatch, GpuContext, Tensor } from '../gpu/context.ts';
import { vec4Dispatch, withVec4Entry } from '../gpu/grid.ts';
import backwardKernel from '../wgsl/gelu_backward.wgsl?raw';
import common from '../wgsl/gelu_common.wgsl?raw';
import forwardKernel from '../wgsl/gelu_forward.wgsl?raw';

const WORKGROUP_SIZE = 256;

// Each kernel with gelu_common.wgsl (the constants and u) and vec4Dispatch's entry point
// prepended: WGSL has no includes.
const forward = { name: 'gelu_forward', source: withVec4Entry(`${common}\n${forwardKernel}`) };
const backward = { name: 'gelu_backward', source: withVec4Entry(`${common}\n${backwardKernel}`) };

/** out (n) = gelu(inp). Overwrites out. */
export function geluForward(
  ctx: GpuContext,
  t: { out: Tensor; inp: Tensor },
  n: number,
  label = 'gelu',
): Dispatch[] {
  return [vec4Dispatch(ctx, label, 'forward', forward, [t.out, t.inp], n, WORKGROUP_SIZE)];
}

/** dinp (n) = gelu'(inp) * dout. Overwrites dinp. */
export function geluBackward(
  ctx: GpuContext,
  t: { dinp: Tensor; inp: Tensor; dout: Tensor },
  n: number,
  label = 'gelu',
): Dispatch[] {
  return [vec4Dispatch(ctx, label, 'backward', backward, [t.dinp, t.inp, t.dout], n, WORKGROUP_SIZE)];
}
