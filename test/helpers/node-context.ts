// One shared GpuContext per Node test file: Dawn device creation is slow on SwiftShader.

import { GpuContext } from '../../kernels/gpu/context.ts';
import { acquireDevice } from '../../kernels/gpu/device.ts';
import { nodeGpu } from '../../kernels/node/node-gpu.ts';

let context: Promise<GpuContext> | null = null;

export function nodeContext(): Promise<GpuContext> {
  context ??= nodeGpu()
    .then((gpu) => acquireDevice(gpu, 'test'))
    .then((acquired) => new GpuContext(acquired));
  return context;
}
