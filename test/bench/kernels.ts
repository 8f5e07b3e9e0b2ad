// `npm run bench:kernels`: our kernels against @tensorflow/tfjs-backend-webgpu on the same
// adapter, in the same process, on one shared GPUDevice:
//   (a) matmul GFLOP/s at the default model's real shapes;
//   (b) full training-step tokens/s (forward, backward, clip, AdamW) of the same GPT.
// Prints a table and both ratios; with --json the last line is one JSON object.
import { parseArgs } from 'node:util';
import { modelGemmShapes } from '../../kernels/gpt/gemm-shapes.ts';
import { GpuGpt } from '../../kernels/gpt/gpu-gpt.ts';
import { autotuneMatmul } from '../../kernels/gpu/autotune.ts';
import { GpuContext } from '../../kernels/gpu/context.ts';
import { acquireDevice } from '../../kernels/gpu/device.ts';
import { nodeGpu } from '../../kernels/node/node-gpu.ts';
import { DEFAULT_TRAIN } from '../../kernels/train/config.ts';
import { DEFAULT_MODEL } from '../../protocol/gpt-config.ts';
import { initParams } from '../../protocol/init-params.ts';
import { memoryTuneCache } from '../helpers/tune-cache-memory.ts';
import { benchOurMatmul } from './matmul-ours.ts';
import { createTfjsGpt } from './tfjs/tfjs-gpt.ts';
import { benchTfjsMatmul } from './tfjs/tfjs-matmul.ts';
import { createTfjsWebgpu } from './tfjs/tfjs-node-webgpu.ts';
import { benchTfjsTrainStep, randomBatch } from './tfjs/tfjs-train-bench.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean' },
    batch: { type: 'string' },
    'our-steps': { type: 'string' },
    'tfjs-steps': { type: 'string' },
    'matmul-iters': { type: 'string' },
  },
});
const B = Number(values.batch ?? DEFAULT_TRAIN.batchSize);
const OUR_STEPS = Number(values['our-steps'] ?? 10);
// A tfjs step takes seconds on a CPU adapter: a couple are enough to time it.
const TFJS_STEPS = Number(values['tfjs-steps'] ?? 2);
const MATMUL = { warmup: 2, iters: Number(values['matmul-iters'] ?? 10) };
const config = DEFAULT_MODEL;
const T = config.contextLength;
const { dModel: C, vocabSize: V } = config;
const M = B * T;

const gpu = await nodeGpu();
const acquired = await acquireDevice(gpu, 'bench');
const ctx = new GpuContext(acquired);
const tf = await createTfjsWebgpu({ gpu, device: acquired.device });
const adapter = [ctx.adapter.vendor, ctx.adapter.architecture, ctx.adapter.description]
  .filter(Boolean)
  .join(' ');
console.log(`adapter: ${adapter}; tfjs ${tf.version_core} on '${tf.getBackend()}'`);
console.log(
  `model: d_model ${C}, ${config.nLayer} layers, ${config.nHead} heads, vocab ${V}; batch ${B} x ${T}`,
);

// (a) matmul at the model's forward shapes (the logits one with the embedding transposed).
const tuner = await autotuneMatmul(ctx, modelGemmShapes(config, B, T), { cache: memoryTuneCache() });
const shapes: Array<[string, number, number, number, boolean]> = [
  ['attn c_attn', M, C, 3 * C, false],
  ['attn c_proj', M, C, C, false],
  ['mlp c_fc', M, C, 4 * C, false],
  ['mlp c_proj', M, 4 * C, C, false],
  ['logits (x @ wte^T)', M, C, V, true],
];
console.log(
  `\n${'matmul'.padEnd(20)}${'shape'.padEnd(22)}${'ours GFLOP/s'.padStart(14)}${'tfjs GFLOP/s'.padStart(14)}${'ratio'.padStart(8)}`,
);
let flops = 0;
let oursMs = 0;
let tfjsMs = 0;
for (const [name, m, k, n, transB] of shapes) {
  const ours = await benchOurMatmul(ctx, m, k, n, MATMUL, { transB, tuning: tuner });
  const theirs = await benchTfjsMatmul(tf, m, k, n, MATMUL, { transposeB: transB });
  flops += 2 * m * n * k;
  oursMs += ours.msPerIter;
  tfjsMs += theirs.msPerIter;
  const shape = `(${m},${k})x(${k},${n})`;
  console.log(
    `${name.padEnd(20)}${shape.padEnd(22)}${ours.gflops.toFixed(2).padStart(14)}${theirs.gflops.toFixed(2).padStart(14)}${(ours.gflops / theirs.gflops).toFixed(2).padStart(8)}`,
  );
}
// Aggregate over the shapes by total time, as a training step weighs them.
const oursMatmulGflops = flops / (oursMs * 1e6);
const tfjsMatmulGflops = flops / (tfjsMs * 1e6);
console.log(
  `${'all shapes'.padEnd(42)}${oursMatmulGflops.toFixed(2).padStart(14)}${tfjsMatmulGflops.toFixed(2).padStart(14)}${(oursMatmulGflops / tfjsMatmulGflops).toFixed(2).padStart(8)}`,
);

// (b) a whole training step, same model, same batch shape, same seed for the weights.
const model = new GpuGpt(ctx, config, { B, T, matmul: tuner });
model.setParams(initParams(config, 42));
const batch = randomBatch(tf, B, T, V, 1);
const inputs = new Uint32Array(await batch.tokens.data());
const targets = new Uint32Array(await batch.targets.data());
batch.tokens.dispose();
batch.targets.dispose();
const hyper = (step: number) => ({
  lr: DEFAULT_TRAIN.learningRate,
  beta1: DEFAULT_TRAIN.beta1,
  beta2: DEFAULT_TRAIN.beta2,
  eps: DEFAULT_TRAIN.eps,
  weightDecay: DEFAULT_TRAIN.weightDecay,
  step,
  maxNorm: DEFAULT_TRAIN.gradClip,
});
await model.trainStep(inputs, targets, hyper(1)); // compiles every pipeline
const start = performance.now();
for (let i = 0; i < OUR_STEPS; i++) await model.trainStep(inputs, targets, hyper(i + 2));
const ourMsPerStep = (performance.now() - start) / OUR_STEPS;
const oursTokensPerSec = (B * T) / (ourMsPerStep / 1000);
model.destroy();

const tfModel = createTfjsGpt(tf, config, 42);
const tfStep = await benchTfjsTrainStep(tf, tfModel, B, T, { warmup: 1, iters: TFJS_STEPS });
tfModel.dispose();
const tfjsTokensPerSec = tfStep.tokensPerSec;
console.log(`\n${'training step'.padEnd(20)}${'ms/step'.padStart(12)}${'tokens/s'.padStart(12)}`);
console.log(
  `${'ours'.padEnd(20)}${ourMsPerStep.toFixed(0).padStart(12)}${oursTokensPerSec.toFixed(0).padStart(12)}`,
);
console.log(
  `${'tfjs'.padEnd(20)}${tfStep.msPerStep.toFixed(0).padStart(12)}${tfjsTokensPerSec.toFixed(0).padStart(12)}`,
);

const matmulRatio = oursMatmulGflops / tfjsMatmulGflops;
const stepRatio = oursTokensPerSec / tfjsTokensPerSec;
console.log(
  `\nmatmul ratio (ours / tfjs): ${matmulRatio.toFixed(2)}x; training-step ratio: ${stepRatio.toFixed(2)}x (goal: >= 2x on both)`,
);
if (values.json) {
  console.log(
    JSON.stringify({
      matmulRatio,
      stepRatio,
      oursMatmulGflops,
      tfjsMatmulGflops,
      oursTokensPerSec,
      tfjsTokensPerSec,
      adapter,
    }),
  );
}
acquired.throwIfFailed();
ctx.destroy();
