// `npm run bench:swarm`: how much less each volunteer sends with DiLoCo rounds and
// CocktailSGD-style compression than with dense per-step all-reduce, and what it costs in
// validation loss, all methods trained on the same tokens of the default model and data.
// See swarm/simulate-diloco.ts for what is real (everything but the wire) and
// swarm/simulate-ddp.ts for how the baseline is counted.
import { join } from 'node:path';
import { modelGemmShapes } from '../../kernels/gpt/gemm-shapes.ts';
import { GpuGpt } from '../../kernels/gpt/gpu-gpt.ts';
import { autotuneMatmul } from '../../kernels/gpu/autotune.ts';
import { openNodeContext } from '../../kernels/node/open-context.ts';
import { fileTuneCache } from '../../kernels/node/tune-cache-file.ts';
import { DEFAULT_TRAIN, type TrainConfig } from '../../kernels/train/config.ts';
import { DEFAULT_MODEL } from '../../protocol/gpt-config.ts';
import { initParams } from '../../protocol/init-params.ts';
import { PLAIN_MEAN } from '../../protocol/robust-aggregate.ts';
import { DEFAULT_RUN } from '../../protocol/run-config.ts';
import { DEFAULT_BROWN_DIR, ensurePrepared } from '../../relay/datasets/ensure-prepared.ts';
import { loadSplitTokens, openSplit } from '../../relay/datasets/loader.ts';
import { readManifest } from '../../relay/datasets/manifest.ts';
import { BROWN_SOURCE } from '../../relay/datasets/source.ts';
import { STATE_DIR } from '../../relay/state-dir.ts';
import { validationLoss } from './swarm/evaluate.ts';
import { parseSwarmCli, SWARM_HELP } from './swarm/options.ts';
import { shardTokens } from './swarm/peer-data.ts';
import { type MethodRun, type SeedRun, swarmRows } from './swarm/rows.ts';
import { simulateDdp } from './swarm/simulate-ddp.ts';
import { simulateDiloco } from './swarm/simulate-diloco.ts';
import { printTable } from './swarm/table.ts';

const EVAL_BATCH = 16;
const say = (line: string) => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`${line}\n`);

const cli = parseSwarmCli(process.argv.slice(2));
if (!cli) {
  say(SWARM_HELP);
  process.exit(0);
}
const { config } = cli;
const model = config.model;
await ensurePrepared(DEFAULT_BROWN_DIR, BROWN_SOURCE);
const manifest = await readManifest(DEFAULT_BROWN_DIR);
const shards = shardTokens(
  await loadSplitTokens(DEFAULT_BROWN_DIR, 'train'),
  config.peers,
  manifest.vocabSize,
);
const val = await openSplit(DEFAULT_BROWN_DIR, 'val');
const ctx = await openNodeContext('bench-swarm');
const tuneCache = fileTuneCache(join(STATE_DIR, 'autotune.json'));
const steps = config.rounds * config.innerSteps;
const train: TrainConfig = {
  ...DEFAULT_TRAIN,
  model,
  batchSize: config.batchSize,
  seqLen: config.seqLen,
  steps,
  learningRate: config.learningRate,
  warmupSteps: config.warmupSteps,
  seed: config.seeds[0] ?? DEFAULT_TRAIN.seed,
};
const evaluator = new GpuGpt(ctx, model, {
  B: EVAL_BATCH,
  T: config.seqLen,
  matmul: await autotuneMatmul(ctx, modelGemmShapes(model, EVAL_BATCH, config.seqLen), { cache: tuneCache }),
});
const score = (weights: Float32Array) => validationLoss(evaluator, weights, val, config.evalBatches);

say(
  `swarm: ${config.peers} peers x ${config.rounds} rounds x ${config.innerSteps} inner steps x ${config.batchSize} x ${config.seqLen} tokens; ` +
    `${JSON.stringify(model) === JSON.stringify(DEFAULT_MODEL) ? 'default model' : `model ${JSON.stringify(model)}`} (${evaluator.layout.paramCount.toLocaleString('en')} parameters); adapter ${ctx.adapter.description || ctx.adapter.architecture}`,
);

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;
/** Every method's measurements, per seed: the table averages them. */
const bySeed: SeedRun[] = [];
let tokens = 0;
for (const seed of config.seeds) {
  const seedTrain = { ...train, seed };
  const seedInit = initParams(model, seed);
  const ddp = await simulateDdp({
    ctx,
    model,
    shards,
    train: seedTrain,
    init: seedInit,
    tuneCache,
    onStep: (step, loss) => {
      if (step % config.innerSteps === 0)
        note(`  seed ${seed} DDP step ${step}/${steps} loss ${loss.toFixed(4)} (${elapsed()})`);
    },
  });
  tokens = ddp.tokens;
  const ddpLoss = await score(ddp.weights);
  note(`seed ${seed} DDP: val ${ddpLoss.toFixed(4)} (${elapsed()})`);
  const runs: MethodRun[] = [
    {
      method: `DDP, fp32 all-reduce every step (batch ${config.peers} x ${config.batchSize})`,
      bytesPerPeer: ddp.bytesPerPeer,
      valLoss: ddpLoss,
      syncs: steps,
      computeSecondsPerSync: ddp.computeSecondsPerStep,
    },
  ];
  for (const method of config.methods) {
    const result = await simulateDiloco({
      ctx,
      model,
      shards,
      train: seedTrain,
      round: {
        innerSteps: config.innerSteps,
        outerLr: method.outerLr ?? config.outerLr,
        outerMomentum: method.outerMomentum ?? config.outerMomentum,
        compression: method.compression,
        aggregation: method.aggregation ?? PLAIN_MEAN,
        // The aggregate goes back exactly for dense DiLoCo, else as the run sends it.
        aggregateBits:
          method.aggregateBits ?? (method.compression.bits === 32 ? 32 : DEFAULT_RUN.round.aggregateBits),
      },
      rounds: config.rounds,
      init: seedInit,
      tuneCache,
      ...(method.overlap ? { overlap: method.overlap } : {}),
      onRound: (r) =>
        note(
          `  seed ${seed} ${method.name}: round ${r.round + 1}/${config.rounds} inner loss ${r.meanLoss.toFixed(4)} frame ${r.frameBytes[0]} B hash ${r.hash.slice(0, 12)} (${elapsed()})`,
        ),
    });
    if (result.tokens !== ddp.tokens)
      throw new Error(`${method.name} trained on ${result.tokens} tokens, DDP on ${ddp.tokens}`);
    const valLoss = await score(result.weights);
    note(`seed ${seed} ${method.name}: val ${valLoss.toFixed(4)} (${elapsed()})`);
    runs.push({
      method: method.name,
      bytesPerPeer: result.bytesPerPeer,
      valLoss,
      syncs: config.rounds,
      computeSecondsPerSync: result.computeSecondsPerRound,
      overlapped: method.overlap !== undefined,
    });
  }
  bySeed.push({ seed, runs });
}
const rows = swarmRows(bySeed, { paramCount: evaluator.layout.paramCount, steps });
printTable(say, rows, tokens, config.seeds);
if (cli.json) say(JSON.stringify({ tokens, seeds: config.seeds, rows }));
evaluator.destroy();
val.close();
