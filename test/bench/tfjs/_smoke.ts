import { acquireDevice } from '../../../kernels/gpu/device.ts';
import { nodeGpu } from '../../../kernels/node/node-gpu.ts';
import { createTfjsWebgpu } from './tfjs-node-webgpu.ts';

const gpu = await nodeGpu();
const acq = await acquireDevice(gpu, 'bench');
console.log(acq.adapterInfo, 'adapterInfo' in acq.device);
const tf = await createTfjsWebgpu({ gpu, device: acq.device });
console.log(tf.getBackend(), tf.version_core);
const a = tf.tensor2d([
  [1, 2],
  [3, 4],
]);
const c = tf.matMul(a, a);
console.log(await c.data());
