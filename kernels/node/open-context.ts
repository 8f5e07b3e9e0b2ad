// A GpuContext in Node: Dawn's GPU (system driver or SwiftShader), a device, our wrapper.
import { GpuContext } from '../gpu/context.ts';
import { acquireDevice } from '../gpu/device.ts';
import { nodeGpu } from './node-gpu.ts';

export async function openNodeContext(label = 'potluck'): Promise<GpuContext> {
  // Dawn in Node waits by polling with setImmediate: see GpuContextOptions.pollingWaits.
  return new GpuContext(await acquireDevice(await nodeGpu(), label), { pollingWaits: true });
}
