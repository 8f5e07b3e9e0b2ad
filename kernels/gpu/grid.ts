// Workgroup grids for one-thread-per-element kernels, and the vec4 shape check they share.

import gridEntry from '../wgsl/grid_common.wgsl?raw';
import vec4Entry from '../wgsl/vec4_common.wgsl?raw';
import type { Dispatch, GpuContext, ShaderSpec, Tensor } from './context.ts';
import { GpuError } from './errors.ts';

/**
 * A one-thread-per-item kernel with grid_common.wgsl's entry point prepended (WGSL has no
 * includes): the flat index over gridFor's grid and the drop of the overshoot are written once.
 * The kernel defines `thread_count()` and `run_thread(i)`.
 */
export function withGridEntry(kernel: string): string {
  return `${gridEntry}\n${kernel}`;
}

/**
 * An elementwise vec4 kernel for vec4Dispatch: withGridEntry, plus vec4_common.wgsl's `Params`
 * (the uniform vec4Dispatch makes) and `thread_count()`, a thread per vec4.
 */
export function withVec4Entry(kernel: string): string {
  return withGridEntry(`${vec4Entry}\n${kernel}`);
}

/**
 * Workgroups for `threads` invocations of a 1-D kernel of `workgroupSize`, folded into y when
 * x would pass the device limit. Kernels rebuild the linear index as
 * `gid.x + gid.y * num_workgroups.x * WORKGROUP_SIZE` and drop the overshoot (withGridEntry).
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

/**
 * One dispatch of a one-thread-per-item kernel (withGridEntry) over `threads` items: sets its
 * WORKGROUP_SIZE override (before the spec's other constants) and folds the grid with gridFor.
 */
export function gridDispatch(
  ctx: GpuContext,
  label: string,
  spec: ShaderSpec,
  resources: readonly Tensor[],
  threads: number,
  workgroupSize: number,
): Dispatch {
  const constants = { WORKGROUP_SIZE: workgroupSize, ...spec.constants };
  return ctx.dispatch(label, { ...spec, constants }, resources, gridFor(ctx, threads, workgroupSize));
}

/**
 * One dispatch of an elementwise vec4 kernel over `n` floats (a thread per vec4): checks n,
 * makes the kernel's `Params { n4 }` uniform, bound after `tensors`, and folds the grid.
 */
export function vec4Dispatch(
  ctx: GpuContext,
  label: string,
  pass: string,
  kernel: ShaderSpec,
  tensors: readonly Tensor[],
  n: number,
  workgroupSize: number,
): Dispatch {
  requireVec4(label, n);
  const params = ctx.createUniform(`${label}:params`, [n / 4]);
  return gridDispatch(ctx, `${label}:${pass}`, kernel, [...tensors, params], n / 4, workgroupSize);
}

/**
 * The builder of an elementwise vec4 op: `tensors` names the kernel's bindings in order (the
 * Params uniform follows them), and every call is one vec4Dispatch over `n` floats. `label`
 * defaults to `defaultLabel`.
 */
export function vec4Builder<K extends string>(
  kernel: ShaderSpec,
  pass: string,
  tensors: readonly K[],
  defaultLabel: string,
  workgroupSize: number,
): (ctx: GpuContext, t: Readonly<Record<K, Tensor>>, n: number, label?: string) => Dispatch[] {
  return (ctx, t, n, label = defaultLabel) => [
    vec4Dispatch(
      ctx,
      label,
      pass,
      kernel,
      tensors.map((name) => t[name]),
      n,
      workgroupSize,
    ),
  ];
}
