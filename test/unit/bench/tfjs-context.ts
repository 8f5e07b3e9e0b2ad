// One tfjs-on-WebGPU per test file, on a device we acquired (Dawn; SwiftShader without a GPU).
import { acquireDevice } from '../../../kernels/gpu/device.ts';
import { nodeGpu } from '../../../kernels/node/node-gpu.ts';
import { createTfjsWebgpu, type Tfjs } from '../../bench/tfjs/tfjs-node-webgpu.ts';

export interface TfjsContext {
  readonly tf: Tfjs;
  readonly device: GPUDevice;
}

let context: Promise<TfjsContext> | null = null;

export function tfjsContext(): Promise<TfjsContext> {
  context ??= (async () => {
    const gpu = await nodeGpu();
    const { device } = await acquireDevice(gpu, 'tfjs-test');
    return { tf: await createTfjsWebgpu({ gpu, device }), device };
  })();
  return context;
}
