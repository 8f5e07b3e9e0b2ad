// `npm run bench:continual`: a small reproduction of Ibrahim et al. (2024)'s continual
// pretraining table on our trainer. A model trained on A (press and learned prose) continues on
// B (fiction) by four methods, scored against re-training from scratch on A ∪ B with the same
// total tokens; see continual/methods.ts for the runs and continual/compute.ts for the
// accounting.
import { join } from 'node:path';
import { createModel } from '../../kernels/gpt/create-model.ts';
import { openNodeContext } from '../../kernels/node/open-context.ts';
import { fileTuneCache } from '../../kernels/node/tune-cache-file.ts';
import { DEFAULT_TRAIN, type TrainConfig } from '../../kernels/train/config.ts';
import { initParams } from '../../protocol/init-params.ts';
import { STATE_DIR } from '../../relay/state-dir.ts';
import { type MethodResult, runSeed } from './continual/methods.ts';
import { CONTINUAL_HELP, parseContinualCli } from './continual/options.ts';
import { prepareDistributions } from './continual/prepare-splits.ts';
import { continualRows, meetsGoal, printContinualTable } from './continual/rows.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`${line}\n`);

const cli = parseContinualCli(process.argv.slice(2));
if (!cli) {
  say(CONTINUAL_HELP);
  process.exit(0);
}
const { config } = cli;
const { a, b } = await prepareDistributions(join(STATE_DIR, 'bench-continual'));
const ctx = await openNodeContext('bench-continual');
const model = await createModel(ctx, config.model, {
  B: config.batchSize,
  T: config.seqLen,
  params: initParams(config.model, config.seeds[0] ?? DEFAULT_TRAIN.seed),
  tuneCache: fileTuneCache(join(STATE_DIR, 'autotune.json')),
});
const train: TrainConfig = {
  ...DEFAULT_TRAIN,
  model: config.model,
  batchSize: config.batchSize,
  seqLen: config.seqLen,
};
const tokensPerStep = config.batchSize * config.seqLen;
say(
  `continual: A = ${a.documents} documents (${a.train.tokenCount.toLocaleString('en')} training tokens), ` +
    `B = ${b.documents} documents (${b.train.tokenCount.toLocaleString('en')}); model ${JSON.stringify(config.model)} ` +
    `(${model.layout.paramCount.toLocaleString('en')} parameters); A phase ${config.aSteps} steps, B phase ${config.bSteps} steps ` +
    `of ${tokensPerStep} tokens; seeds ${config.seeds.join(', ')}`,
);
say(
  `compute = tokens trained: a continual method is handed the A model and counts its B phase only ` +
    `(${(config.bSteps * tokensPerStep).toLocaleString('en')} tokens); re-training counts A ∪ B ` +
    `(${((config.aSteps + config.bSteps) * tokensPerStep).toLocaleString('en')})`,
);

const started = performance.now();
const bySeed: MethodResult[][] = [];
const aModels: MethodResult[] = [];
for (const seed of config.seeds) {
  const log = (line: string) => note(`[${((performance.now() - started) / 1000).toFixed(0)}s] ${line}`);
  const { aModel, rows } = await runSeed({ model, train, config, a, b, log }, seed);
  aModels.push(aModel);
  bySeed.push(rows);
}
const rows = continualRows(bySeed);
const meanOf = (f: (r: MethodResult) => number) => aModels.reduce((s, r) => s + f(r), 0) / aModels.length;
say(
  `\nthe A model (cosine on A) before B: val loss A ${meanOf((r) => r.valLossA).toFixed(4)}, B ${meanOf((r) => r.valLossB).toFixed(4)}`,
);
printContinualTable(say, rows);
const winners = rows.filter(meetsGoal).map((r) => r.method);
say(
  `\ngoal (within 1% of re-training on A and B at ≤ 60% of its compute): ${winners.length > 0 ? `met by ${winners.join('; ')}` : 'not met'}`,
);
if (cli.json) {
  const json = rows.map(({ method, valLossA, valLossB, computeRatio }) => ({
    method,
    valLossA,
    valLossB,
    computeRatio,
  }));
  say(JSON.stringify({ rows: json }));
}
a.train.close();
a.val.close();
b.train.close();
b.val.close();
model.destroy();
ctx.destroy();
