import { expect, it } from 'vitest';
import { GpuContext } from '../../kernels/gpu/context.ts';
import { acquireDevice } from '../../kernels/gpu/device.ts';
import residualSource from '../../kernels/wgsl/residual_forward.wgsl?raw';

it('has WebGPU in the page', async () => {
  const ctx = new GpuContext(await acquireDevice(navigator.gpu));
  const n = 10;
  const out = ctx.createStorage('out', n * 4);
  const a = Float32Array.from({ length: n }, (_, i) => i);
  ctx.run([
    ctx.dispatch(
      'r',
      { name: 'residual_forward', source: residualSource },
      [out, ctx.createStorageFrom('a', a), ctx.createStorageFrom('b', a), ctx.createUniform('p', [n])],
      [1],
    ),
  ]);
  expect((await ctx.readFloats(out))[9]).toBe(18);
  console.log(ctx.adapter);
});
