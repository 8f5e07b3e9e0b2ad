import { describe, expect, it } from 'vitest';
import { sliceFloats } from '../../../kernels/gpu/slice.ts';
import { defaultTunables, GlobalNorm } from '../../../kernels/ops/gradnorm.ts';
import { globalNorm } from '../../../kernels/reference/gradnorm.ts';
import { expectBitIdentical, expectClose, randomFloats } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';

async function gpuNorm(grads: Float32Array, options?: ConstructorParameters<typeof GlobalNorm>[3]) {
  const ctx = await nodeContext();
  const buffer = ctx.createStorageFrom('gradnorm:grads', grads);
  const norm = new GlobalNorm(ctx, buffer, grads.length, options);
  ctx.run(norm.dispatches);
  const result = await ctx.readFloats(norm.result);
  expect(await norm.read()).toBe(result[0]);
  return result;
}

describe('global norm', () => {
  it('matches the CPU reference for sizes that fill no chunk evenly', async () => {
    for (const n of [4, 1000, 4 * 100_003]) {
      const grads = randomFloats(n, n, 0.01);
      const [norm, sumSq] = await gpuNorm(grads);
      const want = globalNorm(Float64Array.from(grads));
      expectClose(`norm n=${n}`, [norm as number], [want], 1e-5);
      expectClose(`sum of squares n=${n}`, [sumSq as number], [want * want], 1e-5);
    }
  });

  it('matches with other tunables (the GPU defaults; many partials per final thread)', async () => {
    const grads = randomFloats(4 * 5000, 3, 2);
    const want = globalNorm(Float64Array.from(grads));
    for (const tunables of [defaultTunables(false), { workgroupSize: 4, perThread: 4 }]) {
      const [norm] = await gpuNorm(grads, tunables);
      expectClose(`norm ${JSON.stringify(tunables)}`, [norm as number], [want], 1e-5);
    }
  });

  it('reads a slice of a bigger buffer', async () => {
    const ctx = await nodeContext();
    const all = randomFloats(1024, 4);
    const buffer = ctx.createStorageFrom('gradnorm:flat', all);
    const norm = new GlobalNorm(ctx, sliceFloats(buffer, 256, 512), 512);
    ctx.run(norm.dispatches);
    expectClose(
      'slice norm',
      [await norm.read()],
      [globalNorm(Float64Array.from(all.subarray(256, 768)))],
      1e-5,
    );
  });

  it('is deterministic', async () => {
    const grads = randomFloats(4 * 70_001, 5);
    expectBitIdentical('norm', await gpuNorm(grads), await gpuNorm(grads));
  });
});
