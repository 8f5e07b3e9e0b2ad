// Prints tfjs-backend-webgpu's figures for the default model on this machine's adapter:
// matMul GFLOP/s at the model's shapes and full training-step tokens/s.
//   node --import tsx --import ./kernels/node/raw-loader.mjs test/bench/tfjs/try.ts [steps]

import { acquireDevice } from '../../../kernels/gpu/device.ts';
import { nodeGpu } from '../../../kernels/node/node-gpu.ts';
import { DEFAULT_MODEL } from '../../../protocol/gpt-config.ts';
import { createTfjsGpt } from './tfjs-gpt.ts';
import { benchTfjsMatmul } from './tfjs-matmul.ts';
import { createTfjsWebgpu, webgpuBackend } from './tfjs-node-webgpu.ts';
import { benchTfjsTrainStep } from './tfjs-train-bench.ts';

const BATCH = 16; // sequences per step
const STEPS = Number(process.argv[2] ?? 3); // timed training steps (each is seconds on SwiftShader)
const MATMUL_ITERS = { warmup: 2, iters: 10 };

/** The shader keys tfjs has compiled: they name the programs it chose and their tiling. */
function pipelineKeys(): string[] {
  // pipelineCache is private in tfjs's typings; reading it is the only way to see the choice.
  return Object.keys((webgpuBackend() as unknown as { pipelineCache: object }).pipelineCache);
}

const gpu = await nodeGpu();
const acquired = await acquireDevice(gpu, 'tfjs-bench');
const tf = await createTfjsWebgpu({ gpu, device: acquired.device });
const { vocabSize: V, contextLength: T, dModel: C } = DEFAULT_MODEL;
const M = BATCH * T;
console.log(`tfjs ${tf.version_core} on '${tf.getBackend()}', adapter: ${acquired.adapterInfo.description}`);

const shapes: Array<[string, number, number, number]> = [
  ['attn c_attn', M, C, 3 * C],
  ['attn c_proj', M, C, C],
  ['mlp c_fc', M, C, 4 * C],
  ['mlp c_proj', M, 4 * C, C],
  ['logits', M, C, V],
];
for (const [name, m, k, n] of shapes) {
  const { gflops, msPerIter } = await benchTfjsMatmul(tf, m, k, n, MATMUL_ITERS);
  const shape = `(${m},${k})x(${k},${n})`.padEnd(20);
  console.log(
    `matmul ${name.padEnd(12)} ${shape} ${msPerIter.toFixed(1).padStart(7)} ms  ${gflops.toFixed(3)} GFLOP/s`,
  );
}
// The key does not hold the sizes, so one program serving every shape shows up once.
console.log(`tfjs matmul programs: ${pipelineKeys().join('\n  ')}`);

const model = createTfjsGpt(tf, DEFAULT_MODEL, 42);
const start = performance.now();
const step = await benchTfjsTrainStep(tf, model, BATCH, T, { warmup: 1, iters: STEPS });
const totalS = (performance.now() - start) / 1000;
// 6 N per token (forward + backward of the weights), the convention credits use too.
const modelGflops = (6 * model.paramCount * BATCH * T) / (step.msPerStep * 1e6);
console.log(
  `train step B=${BATCH} T=${T} (${model.paramCount} params): ${step.msPerStep.toFixed(0)} ms/step, ` +
    `${step.tokensPerSec.toFixed(1)} tokens/s, ~${modelGflops.toFixed(3)} GFLOP/s (6N), ` +
    `losses ${step.losses.map((l) => l.toFixed(3)).join(' ')}, ` +
    `tensors ${step.numTensors.afterWarmup} -> ${step.numTensors.afterTimed}, ${totalS.toFixed(1)} s in all`,
);
model.dispose();
acquired.throwIfFailed();
