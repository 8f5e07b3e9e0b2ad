// Residual connection builder: out = a + b, a thread per vec4.
import type { Dispatch, GpuContext, Tensor } from '../gpu/context.ts';
import { gridFor, requireVec4 } from '../gpu/grid.ts';
import source from '../wgsl/residual_forward.wgsl?raw';

const WORKGROUP_SIZE = 256;

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
