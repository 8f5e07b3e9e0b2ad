import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { GpuError } from '../../../kernels/gpu/errors.ts';
import { gridFor, withVec4Entry } from '../../../kernels/gpu/grid.ts';
import { residualForward } from '../../../kernels/ops/residual.ts';
import { residualForward as reference } from '../../../kernels/reference/residual.ts';
import residualKernel from '../../../kernels/wgsl/residual_forward.wgsl?raw';
import { expectBitIdentical, expectClose, randomFloats } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';

async function runResidual(a: Float32Array, b: Float32Array) {
  const ctx = await nodeContext();
  const out = ctx.createStorageFrom('residual:out', randomFloats(a.length, 9)); // overwritten
  const dispatches = residualForward(
    ctx,
    { out, a: ctx.createStorageFrom('residual:a', a), b: ctx.createStorageFrom('residual:b', b) },
    a.length,
  );
  ctx.run(dispatches);
  return ctx.readFloats(out);
}

describe('residual_forward', () => {
  it('matches the CPU reference (n = 1000, not a multiple of the workgroup)', async () => {
    const a = randomFloats(1000, 1);
    const b = randomFloats(1000, 2);
    const want = new Float64Array(1000);
    reference(want, Float64Array.from(a), Float64Array.from(b), 1000);
    expectClose('residual', await runResidual(a, b), want);
  });

  it('is deterministic', async () => {
    const a = randomFloats(4096, 3);
    const b = randomFloats(4096, 4);
    expectBitIdentical('residual', await runResidual(a, b), await runResidual(a, b));
  });

  it('refuses sizes that are not whole vec4s', async () => {
    const ctx = await nodeContext();
    const buffer = ctx.createStorage('residual:tiny', 16);
    expect(() => residualForward(ctx, { out: buffer, a: buffer, b: buffer }, 6)).toThrow(GpuError);
  });
});

describe('gridFor', () => {
  const fake = (limit: number) =>
    ({ device: { limits: { maxComputeWorkgroupsPerDimension: limit } } }) as GpuContext;

  it('folds workgroups past the per-dimension limit into y', () => {
    expect(gridFor(fake(65535), 1000, 256)).toEqual([4, 1]);
    expect(gridFor(fake(65535), 0, 256)).toEqual([1, 1]);
    const [x, y] = gridFor(fake(10), 101 * 64, 64);
    expect(x).toBeLessThanOrEqual(10);
    expect(x * y).toBeGreaterThanOrEqual(101);
  });

  it('covers every element with a real 2-D grid (70000 one-thread workgroups)', async () => {
    const ctx = await nodeContext();
    const n4 = 70_000;
    const grid = gridFor(ctx, n4, 1);
    expect(grid[1]).toBeGreaterThan(1);
    const a = randomFloats(4 * n4, 5);
    const b = randomFloats(4 * n4, 6);
    const out = ctx.createStorage('residual:out', 16 * n4);
    const spec = {
      name: 'residual_forward',
      source: withVec4Entry(residualKernel),
      constants: { WORKGROUP_SIZE: 1 },
    };
    const buffers = [
      out,
      ctx.createStorageFrom('a', a),
      ctx.createStorageFrom('b', b),
      ctx.createUniform('p', [n4]),
    ];
    ctx.run([ctx.dispatch('residual:2d', spec, buffers, grid)]);
    const want = new Float64Array(4 * n4);
    reference(want, Float64Array.from(a), Float64Array.from(b), 4 * n4);
    expectClose('residual 2-D grid', await ctx.readFloats(out), want);
  });
});
