// The GPU layer's promises: pipelines are cached by shader and constants, validation errors and
// device loss are loud (typed GpuError codes), and a missing WebGPU says what to do.
import { describe, expect, it } from 'vitest';
import { GpuContext } from '../../../kernels/gpu/context.ts';
import { acquireDevice } from '../../../kernels/gpu/device.ts';
import { GpuError } from '../../../kernels/gpu/errors.ts';
import { withVec4Entry } from '../../../kernels/gpu/grid.ts';
import { nodeGpu } from '../../../kernels/node/node-gpu.ts';
import residualKernel from '../../../kernels/wgsl/residual_forward.wgsl?raw';

const residualSource = withVec4Entry(residualKernel);

async function freshContext(): Promise<GpuContext> {
  return new GpuContext(await acquireDevice(await nodeGpu(), 'context-test'));
}

describe('GpuContext', () => {
  it('caches pipelines by shader and override constants, and labels them', async () => {
    const ctx = await freshContext();
    const spec = { name: 'residual_forward', source: residualSource, constants: { WORKGROUP_SIZE: 64 } };
    const first = ctx.pipeline(spec);
    expect(ctx.pipeline({ ...spec, constants: { WORKGROUP_SIZE: 64 } })).toBe(first);
    expect(ctx.pipeline({ ...spec, constants: { WORKGROUP_SIZE: 128 } })).not.toBe(first);
    expect(first.label).toBe('residual_forward|WORKGROUP_SIZE=64');
    ctx.destroy();
  });

  it('turns a validation error into ERR_GPU_VALIDATION at the next sync', async () => {
    const ctx = await freshContext();
    const tooSmall = ctx.createStorage('too-small', 4);
    // A uniform buffer where the shader wants storage: invalid bind group, reported by WebGPU.
    const uniform = ctx.createUniform('params', [1]);
    const spec = { name: 'residual_forward', source: residualSource, constants: { WORKGROUP_SIZE: 64 } };
    expect(() => ctx.dispatch('bad', spec, [uniform, tooSmall, tooSmall, uniform], [1])).not.toThrow();
    await expect(ctx.sync()).rejects.toMatchObject({ name: 'GpuError', code: 'ERR_GPU_VALIDATION' });
    // Reported once, then forgotten.
    await expect(ctx.sync()).resolves.toBeUndefined();
    ctx.destroy();
  });

  it('refuses use after destroy with ERR_DEVICE_LOST, and destroy() twice is safe', async () => {
    const ctx = await freshContext();
    ctx.destroy();
    ctx.destroy();
    expect(() => ctx.createStorage('late', 16)).toThrow(GpuError);
    expect(() => ctx.createStorage('late', 16)).toThrow(/ERR_DEVICE_LOST/);
  });

  it('says what to do when there is no WebGPU at all', async () => {
    await expect(acquireDevice(undefined)).rejects.toMatchObject({ code: 'ERR_WEBGPU_UNAVAILABLE' });
  });
});
