// tfjs's WebGPU backend, in Node, on a GPUDevice we acquired ourselves (Dawn, see
// kernels/node/node-gpu.ts), so that our kernels and tfjs's run on the same adapter and device
// in the same process and the benchmark compares like for like.
//
// Four things stand between tfjs-backend-webgpu 4.22 and Node:
// - Its `WebGPUBackend` constructor (and its self-registration at import time) test
//   `globalThis.navigator.gpu` and throw without it; Node 20 has no `navigator` at all.
// - It uses the GPUBufferUsage / GPUMapMode / GPUTextureUsage globals; nodeGpu() installs
//   Dawn's.
// - Its kernels are registered for the backend *name* 'webgpu', so our backend must carry
//   that name (a 'webgpu-potluck' name would find no kernels and every op would throw).
// - tfjs-core's Node build registers no gradients, and cannot be asked to (./tfjs-gradients.ts).
// Never read a tensor synchronously (dataSync/arraySync): WebGPUBackend.readSync goes through
// an OffscreenCanvas, which Node does not have.
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import * as tf from '@tensorflow/tfjs-core';
import { registerTfjsGradients } from './tfjs-gradients.ts';

export type Tfjs = typeof tf;

/** The name tfjs-backend-webgpu registers its kernels under. */
export const TFJS_WEBGPU = 'webgpu';

export interface TfjsWebgpuOptions {
  /** The `GPU` the device came from (navigator.gpu, or nodeGpu()'s in Node). */
  readonly gpu: GPU;
  /** Our device: tfjs allocates and dispatches on it, next to our own kernels. */
  readonly device: GPUDevice;
  /**
   * tfjs runs ops whose inputs are all small (< 1000 elements) and not yet uploaded on the
   * CPU instead (flag WEBGPU_CPU_FORWARD, on by default). Off by default here so that every
   * op the benchmark times is GPU work.
   */
  readonly cpuForward?: boolean;
}

/** Gives `globalThis.navigator.gpu` a value, creating `navigator` where Node lacks one. */
function provideNavigatorGpu(gpu: GPU): void {
  const global = globalThis as { navigator?: { gpu?: GPU } };
  if (global.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else if (!global.navigator.gpu) {
    // Node 21+ has a navigator without WebGPU.
    Object.defineProperty(global.navigator, 'gpu', { value: gpu, configurable: true });
  }
}

/**
 * Returns tfjs-core, gradients registered, with tfjs-backend-webgpu active on `device`. tfjs
 * is a process-wide singleton: a second call with another device replaces the backend (and
 * frees the first's tensors). Throws if tfjs ends up on anything but WebGPU on this device.
 */
export async function createTfjsWebgpu(options: TfjsWebgpuOptions): Promise<Tfjs> {
  const { gpu, device, cpuForward = false } = options;
  provideNavigatorGpu(gpu);

  const current = tf.findBackend(TFJS_WEBGPU);
  if (!(current instanceof WebGPUBackend && current.device === device)) {
    // Either nothing yet, or the package's own factory (registered at import when navigator.gpu
    // already existed, as in a browser): that one would request a second device of its own.
    if (tf.findBackendFactory(TFJS_WEBGPU)) tf.removeBackend(TFJS_WEBGPU);
    const adapterInfo = 'adapterInfo' in device ? device.adapterInfo : undefined;
    tf.registerBackend(TFJS_WEBGPU, () => new WebGPUBackend(device, adapterInfo), 3);
  }
  tf.env().set('WEBGPU_CPU_FORWARD', cpuForward);

  if (!(await tf.setBackend(TFJS_WEBGPU))) throw new Error('tfjs could not initialize its webgpu backend');
  await tf.ready();
  assertOnDevice(device);
  await registerTfjsGradients(tf);
  return tf;
}

/** Fails loudly if tfjs would run anywhere but WebGPU on `device` (no silent CPU fallback). */
export function assertOnDevice(device: GPUDevice): void {
  const backend = tf.backend();
  if (tf.getBackend() !== TFJS_WEBGPU || !(backend instanceof WebGPUBackend) || backend.device !== device) {
    throw new Error(`tfjs is on backend '${tf.getBackend()}', not WebGPU on our device`);
  }
}

/** The active WebGPUBackend. */
export function webgpuBackend(): WebGPUBackend {
  const backend = tf.backend();
  if (!(backend instanceof WebGPUBackend)) throw new Error(`tfjs is on '${tf.getBackend()}', not WebGPU`);
  return backend;
}

/**
 * Submits every command tfjs has recorded but not yet submitted, then waits until the GPU has
 * run it. tfjs batches dispatches into one command encoder and submits only every
 * WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE (15) of them or on a read, so waiting on the queue alone
 * would miss the tail. This is what WebGPUBackend.getBufferData does before a read, minus
 * the copy.
 */
export async function tfjsFinish(): Promise<void> {
  const backend = webgpuBackend();
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  await backend.queue.onSubmittedWorkDone();
}
