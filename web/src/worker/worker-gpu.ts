// The worker's GPU, acquired on first use and then shared by every engine the worker builds.
import { GpuContext } from '../../../kernels/gpu/context.ts';
import { acquireDevice } from '../../../kernels/gpu/device.ts';

/** A getter of the worker's one GpuContext (`label` names its device in errors). */
export function workerGpu(label: string): () => Promise<GpuContext> {
  let context: Promise<GpuContext> | null = null;
  return () => {
    context ??= acquireDevice(self.navigator.gpu, label).then((acquired) => new GpuContext(acquired));
    // A failed acquisition is not cached: the volunteer may enable WebGPU and try again.
    context.catch(() => {
      context = null;
    });
    return context;
  };
}
