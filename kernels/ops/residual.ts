// Residual connection builder: out = a + b, a thread per vec4.
import type { Dispatch, GpuContext, Tensor } from '../gpu/context.ts';
import { vec4Dispatch, withVec4Entry } from '../gpu/grid.ts';
import source from '../wgsl/residual_forward.wgsl?raw';

const WORKGROUP_SIZE = 256;

/** out = a + b over `n` floats (n a multiple of 4). `out` is overwritten. */
export function residualForward(
  ctx: GpuContext,
  t: { out: Tensor; a: Tensor; b: Tensor },
  n: number,
  label = 'residual',
): Dispatch[] {
  const kernel = { name: 'residual_forward', source: withVec4Entry(source) };
  return [vec4Dispatch(ctx, label, 'forward', kernel, [t.out, t.a, t.b], n, WORKGROUP_SIZE)];
}
