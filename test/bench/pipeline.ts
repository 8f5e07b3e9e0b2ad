// `npm run bench:pipeline`: how much less a pipeline-parallel run sends across its stage
// boundaries with compressed activation links (blockwise int8/int4, AQ-SGD deltas) than with
// fp32 ones, and what it costs in validation loss against the unsplit model, every row trained
// on the same batches of the default model and data. Everything is real but the wire: the
// stages share one GPU and the links hand each other the encoded frames in memory
// (test/helpers/pipeline/pipeline-runner.ts). See pipeline/batch-pool.ts for why the batches come
// from a fixed pool, and pipeline/train-pipeline.ts for what the byte counts include. Every row
// clips by the whole model's gradient norm, the unsplit model's own way, and counts the loss
// spikes of its run (pipeline/loss-spikes.ts): `--steps 100` is the run that checks for them.
import { join } from 'node:path';
import { modelGemmShapes } from '../../kernels/gpt/gemm-shapes.ts';
import { GpuGpt } from '../../kernels/gpt/gpu-gpt.ts';
import { autotuneMatmul } from '../../kernels/gpu/autotune.ts';
import { openNodeContext } from '../../kernels/node/open-context.ts';
import { fileTuneCache } from '../../kernels/node/tune-cache-file.ts';
import { DEFAULT_TRAIN, type TrainConfig } from '../../kernels/train/config.ts';
import { activationFrameBytes } from '../../protocol/activation-frame.ts';
import { DEFAULT_MODEL } from '../../protocol/gpt-config.ts';
import { initParams } from '../../protocol/init-params.ts';
import { createRng } from '../../protocol/rng.ts';
import { DEFAULT_BROWN_DIR, ensurePrepared } from '../../relay/datasets/ensure-prepared.ts';
import { loadSplitTokens, openSplit } from '../../relay/datasets/loader.ts';
import { BROWN_SOURCE } from '../../relay/datasets/source.ts';
import { STATE_DIR } from '../../relay/state-dir.ts';
import { BatchPool } from './pipeline/batch-pool.ts';
import { lossSpikes, SPIKE_RATIO } from './pipeline/loss-spikes.ts';
import { checkOneStage } from './pipeline/one-stage-check.ts';
import { codecName, PIPELINE_HELP, parsePipelineCli } from './pipeline/options.ts';
import { type PipelineRow, printTable } from './pipeline/table.ts';
import { trainPipeline } from './pipeline/train-pipeline.ts';
import { trainUnsplit } from './pipeline/train-unsplit.ts';
import { validationLoss } from './swarm/evaluate.ts';

const EVAL_BATCH = 16;
/** What the pipeline design aims for (PIPELINE_HELP says why 4-bit frames fall just short). */
const GOAL = { reduction: 8, gapPercent: 2 };
const say = (line: string) => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`${line}\n`);

const cli = parsePipelineCli(process.argv.slice(2));
if (!cli) {
  say(PIPELINE_HELP);
  process.exit(0);
}
const { config } = cli;
const { model, steps, batchSize, microbatches: M, seqLen: T } = config;
await ensurePrepared(DEFAULT_BROWN_DIR, BROWN_SOURCE);
// The pool draws from a different stream than initParams, which takes the seed itself.
const pool = new BatchPool(
  await loadSplitTokens(DEFAULT_BROWN_DIR, 'train'),
  config.poolBatches,
  batchSize,
  T,
  createRng(config.seed + 1),
);
const val = await openSplit(DEFAULT_BROWN_DIR, 'val');
const ctx = await openNodeContext('bench-pipeline');
const tuneCache = fileTuneCache(join(STATE_DIR, 'autotune.json'));
const init = initParams(model, config.seed);
const train: TrainConfig = {
  ...DEFAULT_TRAIN,
  model,
  batchSize,
  seqLen: T,
  steps,
  learningRate: config.learningRate,
  warmupSteps: config.warmupSteps,
  beta2: config.beta2,
  eps: config.eps,
  seed: config.seed,
};
const tune = (B: number) => autotuneMatmul(ctx, modelGemmShapes(model, B, T), { cache: tuneCache });
const microbatchTuning = await tune(batchSize / M);
const evaluator = new GpuGpt(ctx, model, { B: EVAL_BATCH, T, matmul: await tune(EVAL_BATCH) });
const score = (weights: Float32Array) => validationLoss(evaluator, weights, val, config.evalBatches);

// What an fp32 link carries per token each way: one frame of (B/M, T, C) floats per microbatch.
const rows = (batchSize / M) * T;
const fp32PerToken = (blockSize: number) =>
  activationFrameBytes('fp32', rows * model.dModel, blockSize) / rows;
const epochs = steps / config.poolBatches;
say(
  `pipeline: ${steps} steps x ${batchSize} x ${T} tokens in ${M} microbatches, from a pool of ${config.poolBatches} batches (${epochs.toFixed(epochs % 1 ? 1 : 0)} epochs); ` +
    `${JSON.stringify(model) === JSON.stringify(DEFAULT_MODEL) ? 'default model' : `model ${JSON.stringify(model)}`} (${evaluator.layout.paramCount.toLocaleString('en')} parameters); AdamW lr ${config.learningRate} after ${config.warmupSteps} warmup steps, beta2 ${config.beta2}, eps ${config.eps}, seed ${config.seed}; adapter ${ctx.adapter.description || ctx.adapter.architecture}`,
);

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;
const check = await checkOneStage(ctx, model, init, pool.at(0).batch, M, {
  whole: await tune(batchSize),
  microbatch: microbatchTuning,
});
note(
  `1-stage fp32 pipeline (${M} microbatches) vs unsplit on one batch: loss ${check.pipelineLoss.toFixed(6)} vs ${check.unsplitLoss.toFixed(6)}, ` +
    `gradient maxDiff ${check.gradMaxDiff.toExponential(2)} (largest ${check.gradMaxAbs.toExponential(2)})`,
);
if (Math.abs(check.pipelineLoss - check.unsplitLoss) > 1e-5 * check.unsplitLoss)
  throw new Error(
    'the 1-stage fp32 pipeline does not compute the unsplit model: the table would mean nothing',
  );

const unsplit = await trainUnsplit({
  ctx,
  model,
  pool,
  train,
  init,
  tuneCache,
  onStep: (step, loss) => {
    if (step % config.poolBatches === 0 || step === steps)
      note(`  unsplit: step ${step}/${steps} loss ${loss.toFixed(4)} (${elapsed()})`);
  },
});
const baseLoss = await score(unsplit.weights);
note(`unsplit: val ${baseLoss.toFixed(4)} (${elapsed()})`);
const table: PipelineRow[] = [
  {
    stages: 1,
    codec: 'unsplit',
    bytesPerTokenForward: 0,
    bytesPerTokenBackward: 0,
    reduction: null,
    valLoss: baseLoss,
    gapPercent: 0,
    ...lossSpikes(unsplit.losses),
  },
];
for (const S of config.stages) {
  for (const spec of config.codecs) {
    const name = `${S} stages ${codecName(spec)}`;
    const blockSize = spec.blockSize ?? config.blockSize;
    const run = await trainPipeline({
      ctx,
      model,
      pool,
      train,
      stages: S,
      microbatches: M,
      codecs: { forward: spec.forward, backward: spec.backward, firstCrossing: spec.firstCrossing },
      blockSize,
      init,
      matmul: microbatchTuning,
      onStep: (step, report) => {
        if (step % config.poolBatches === 0 || step === steps)
          note(
            `  ${name}: step ${step}/${steps} loss ${report.loss.toFixed(4)}, deltas ${(100 * report.deltaShare.forward).toFixed(0)}% up ${(100 * report.deltaShare.backward).toFixed(0)}% down (${elapsed()})`,
          );
      },
    });
    if (run.tokens !== unsplit.tokens)
      throw new Error(`${name} trained on ${run.tokens} tokens, the unsplit model on ${unsplit.tokens}`);
    const fp32 = fp32PerToken(blockSize);
    if (spec.forward === 'fp32' && Math.abs(run.bytesPerTokenForward - fp32) > 1e-9 * fp32)
      throw new Error(`${name}: ${run.bytesPerTokenForward} B/token, an fp32 frame is ${fp32}`);
    const valLoss = await score(run.weights);
    note(
      `${name}: val ${valLoss.toFixed(4)}; ${run.bytesPerTokenForward.toFixed(1)} B/token up, ${run.bytesPerTokenBackward.toFixed(1)} down per boundary, ` +
        `${(100 * run.deltaShare.forward).toFixed(0)}%/${(100 * run.deltaShare.backward).toFixed(0)}% of frames as deltas; tied embedding ${run.tiedBytesPerStep} B/step (${elapsed()})`,
    );
    table.push({
      stages: S,
      codec: codecName(spec),
      bytesPerTokenForward: run.bytesPerTokenForward,
      bytesPerTokenBackward: run.bytesPerTokenBackward,
      reduction: (2 * fp32) / (run.bytesPerTokenForward + run.bytesPerTokenBackward),
      valLoss,
      gapPercent: (100 * (valLoss - baseLoss)) / baseLoss,
      ...lossSpikes(run.losses),
    });
  }
}
printTable(say, table, unsplit.tokens);
say(
  `spikes: steps whose train loss passed ${SPIKE_RATIO}x the lowest before it; max rise: the largest loss increase from one step to the next (gradient clip ${train.gradClip}, across all stages)`,
);
const goal = table.filter(
  (r) => r.reduction !== null && r.reduction >= GOAL.reduction && r.gapPercent <= GOAL.gapPercent,
);
say(
  `goal (>= ${GOAL.reduction}x less than fp32, val loss within ${GOAL.gapPercent}% of unsplit): ` +
    (goal.length > 0 ? `met by ${goal.map((r) => `${r.stages} stages ${r.codec}`).join(', ')}` : 'not met'),
);
note(`done in ${elapsed()}`);
if (cli.json) say(JSON.stringify({ rows: table }));
evaluator.destroy();
val.close();
