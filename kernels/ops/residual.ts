// Residual connection builder, plus the two helpers every elementwise builder shares: the
// `Tensor` type for "a buffer or a slice of one" and `gridFor`, the 2-D workgroup grid that
// keeps big element counts under WebGPU's 65535-workgroups-per-dimension limit.

import type { BufferSlice, Dispatch, GpuContext } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import source from '../wgsl/residual_forward.wgsl?raw';

/** What a kernel binds: a whole buffer or a 256-byte-aligned range of one. */
export type Tensor = GPUBuffer | BufferSlice;

const WORKGROUP_SIZE = 256;

/**
 * Workgroups for `threads` invocations of a 1-D kernel of `workgroupSize`, folded into y when
 * x would pass the device limit. Kernels rebuild the linear index as
 * `gid.x + gid.y * num_workgroups.x * WORKGROUP_SIZE` and drop the overshoot.
 */
export function gridFor(ctx: GpuContext, threads: number, workgroupSize: number): [number, number] {
  const groups = Math.max(1, Math.ceil(threads / workgroupSize));
  const limit = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= limit) return [groups, 1];
  const y = Math.ceil(groups / limit);
  return [Math.ceil(groups / y), y];
}

/** vec4 kernels bind arrays of vec4: their float counts must divide by 4. */
export function requireVec4(label: string, floats: number): void {
  if (!Number.isInteger(floats) || floats <= 0 || floats % 4 !== 0) {
    throw new GpuError('ERR_SHAPE', `${label}: ${floats} floats is not a positive multiple of 4`);
  }
}

/** out = a + b over `n` floats (n a multiple of 4). `out` is overwritten. */
export function residualForward(
  ctx: GpuContext,
  t: { out: Tensor; a: Tensor; b: Tensor },
  n: number,
  label = 'residual',
): Dispatch[] {
  requireVec4(label, n);
  const params = ctx.createUniform(`${label}:params`, [n / 4]);
  return [
    ctx.dispatch(
      `${label}:forward`,
      { name: 'residual_forward', source, constants: { WORKGROUP_SIZE } },
      [t.out, t.a, t.b, params],
      gridFor(ctx, n / 4, WORKGROUP_SIZE),
    ),
  ];
}
