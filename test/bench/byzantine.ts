// `npm run bench:byzantine`: what untrusted volunteers can do to a run. Ten members per round,
// f of them attackers that craft frames from what the honest peers send (byzantine/attacks.ts);
// the relay counts its own copies with the run's robust rule, drops proven equivocators and
// guards every new state with a validation loss (byzantine/simulated-relay.ts). Each row is
// the final validation loss against the same honest peers without the attackers; a few
// attacks also run under the plain mean, which trusts everyone, for contrast.
import { join } from 'node:path';
import { modelGemmShapes } from '../../kernels/gpt/gemm-shapes.ts';
import { GpuGpt } from '../../kernels/gpt/gpu-gpt.ts';
import { autotuneMatmul } from '../../kernels/gpu/autotune.ts';
import { openNodeContext } from '../../kernels/node/open-context.ts';
import { fileTuneCache } from '../../kernels/node/tune-cache-file.ts';
import { DEFAULT_TRAIN, type TrainConfig } from '../../kernels/train/config.ts';
import { initParams } from '../../protocol/init-params.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import { type AggregationSettings, PLAIN_MEAN } from '../../protocol/robust-aggregate.ts';
import { DEFAULT_RUN, type RoundConfig } from '../../protocol/run-config.ts';
import type { TokenBatch } from '../../protocol/token-batch.ts';
import { DEFAULT_BROWN_DIR, ensurePrepared } from '../../relay/datasets/ensure-prepared.ts';
import { loadSplitTokens, openSplit } from '../../relay/datasets/loader.ts';
import { readManifest } from '../../relay/datasets/manifest.ts';
import { BROWN_SOURCE } from '../../relay/datasets/source.ts';
import { STATE_DIR } from '../../relay/state-dir.ts';
import { ATTACKS, type Attack, PLAIN_MEAN_CONTRAST } from './byzantine/attacks.ts';
import { HonestSwarm } from './byzantine/honest-swarm.ts';
import { BYZANTINE_HELP, parseByzantineCli } from './byzantine/options.ts';
import { type Scenario, type ScenarioResult, simulateScenario } from './byzantine/simulate-byzantine.ts';
import { type ByzantineRow, formatRow, printTable } from './byzantine/table.ts';
import { shardTokens } from './swarm/peer-data.ts';

const EVAL_BATCH = 16;
const say = (line: string) => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`${line}\n`);

const cli = parseByzantineCli(process.argv.slice(2));
if (!cli) {
  say(BYZANTINE_HELP);
  process.exit(0);
}
const { config } = cli;
const { model, peers: n } = config;
await ensurePrepared(DEFAULT_BROWN_DIR, BROWN_SOURCE);
const manifest = await readManifest(DEFAULT_BROWN_DIR);
const shards = shardTokens(await loadSplitTokens(DEFAULT_BROWN_DIR, 'train'), n, manifest.vocabSize);
const val = await openSplit(DEFAULT_BROWN_DIR, 'val');
const ctx = await openNodeContext('bench-byzantine');
const tuneCache = fileTuneCache(join(STATE_DIR, 'autotune.json'));
const init = initParams(model, config.seed);
const layout = paramLayout(model);
const train: TrainConfig = {
  ...DEFAULT_TRAIN,
  model,
  batchSize: config.batchSize,
  seqLen: config.seqLen,
  steps: config.rounds * config.innerSteps,
  learningRate: config.learningRate,
  warmupSteps: config.warmupSteps,
  seed: config.seed,
};
const roundWith = (aggregation: AggregationSettings): RoundConfig => ({
  ...DEFAULT_RUN.round,
  innerSteps: config.innerSteps,
  aggregation,
});

// The guard's held-out batch: the first validationSequences of the validation split. The final
// loss is measured on the batches after the first EVAL_BATCH sequences, so never on it.
const { validationSequences } = config.guard;
const evaluator = (B: number) =>
  autotuneMatmul(ctx, modelGemmShapes(model, B, config.seqLen), { cache: tuneCache }).then(
    (matmul) => new GpuGpt(ctx, model, { B, T: config.seqLen, matmul }),
  );
const guardModel = await evaluator(validationSequences);
const finalModel = await evaluator(EVAL_BATCH);
const guardBatch = val.evalBatches(validationSequences, config.seqLen)[Symbol.iterator]().next()
  .value as TokenBatch;
const finalBatches: TokenBatch[] = [];
for (const batch of val.evalBatches(EVAL_BATCH, config.seqLen)) {
  if (finalBatches.length > config.evalBatches) break;
  finalBatches.push(batch);
}
finalBatches.shift();
const guardScore = async (weights: Float32Array) => {
  guardModel.setParams(weights);
  return guardModel.evaluate(guardBatch.inputs, guardBatch.targets);
};
const finalScore = async (weights: Float32Array) => {
  finalModel.setParams(weights);
  let sum = 0;
  for (const batch of finalBatches) sum += await finalModel.evaluate(batch.inputs, batch.targets);
  return sum / finalBatches.length;
};

const honest = new HonestSwarm({
  ctx,
  model,
  shards,
  train,
  round: roundWith(config.aggregation),
  init,
  tuneCache,
});
const cache = new Map<string, readonly Uint8Array[]>();
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;
const robustName = ruleName(config.aggregation);
say(
  `byzantine: ${n} peers x ${config.rounds} rounds x ${config.innerSteps} inner steps x ${config.batchSize} x ${config.seqLen} tokens; ` +
    `${config.modelName} model (${layout.paramCount.toLocaleString('en')} parameters); compression ${JSON.stringify(DEFAULT_RUN.round.compression)}; ` +
    `robust rule ${robustName}; guard ${JSON.stringify(config.guard)}; adapter ${ctx.adapter.description || ctx.adapter.architecture}`,
);

function ruleName(a: AggregationSettings): string {
  if (a.rule === 'mean') return 'plain mean';
  const filter = a.minAlignment > 0 ? `, align ${a.minAlignment}` : '';
  return `${a.rule} (norm ${a.normBound}, radius ${a.clipRadius}, ${a.iterations} it.${filter})`;
}

const rows: ByzantineRow[] = [];
const widths = { attack: 38, aggregation: robustName.length + 2 };
async function run(
  label: string,
  scenario: Scenario,
  reference: { name: string; valLoss: number } | null,
): Promise<{ valLoss: number; result: ScenarioResult }> {
  note(`${label}: ${scenario.attackers} of ${scenario.peers} (${elapsed()})`);
  const result = await simulateScenario(scenario, {
    honest,
    layout,
    rounds: config.rounds,
    seed: config.seed,
    tokensPerMember: config.innerSteps * config.batchSize * config.seqLen,
    init,
    score: guardScore,
    cache,
    onRound: (line) => note(`  ${line} (${elapsed()})`),
  });
  const valLoss = await finalScore(result.state.weights);
  const row: ByzantineRow = {
    attack: label,
    attackers: scenario.attackers,
    peers: scenario.peers,
    aggregation: `${ruleName(scenario.round.aggregation)}${scenario.guard ? '' : ', no guard'}`,
    valLoss,
    gapPercent: reference ? (100 * (valLoss - reference.valLoss)) / reference.valLoss : 0,
    against: reference?.name ?? '',
    rolledBack: result.rolledBack,
    aborted: result.aborted,
  };
  rows.push(row);
  say(`${formatRow(row, widths)}  (${elapsed()}${result.replayed ? ', cached frames' : ''})`);
  return { valLoss, result };
}

const robust = roundWith(config.aggregation);
const plain = roundWith(PLAIN_MEAN);
const clean = (peers: number, round: RoundConfig, guard: boolean): Scenario => ({
  peers,
  attackers: 0,
  attack: null,
  round,
  guard: guard ? config.guard : null,
});
const attacked = (f: number, attack: Attack, round: RoundConfig, guard: boolean): Scenario => ({
  peers: n,
  attackers: f,
  attack,
  round,
  guard: guard ? config.guard : null,
});

const plainClean = await run('none', clean(n, plain, false), null);
const robustClean = await run('none', clean(n, robust, true), {
  name: `plain mean, ${n} honest`,
  valLoss: plainClean.valLoss,
});
const cleanRobustGapPercent = (100 * (robustClean.valLoss - plainClean.valLoss)) / plainClean.valLoss;
const attacks = ATTACKS.filter((a) => !config.only || config.only.includes(a.name));
for (const f of config.attackerCounts) {
  const honestOnly = await run('none', clean(n - f, robust, true), null);
  const reference = { name: `${n - f} honest alone`, valLoss: honestOnly.valLoss };
  for (const attack of attacks) await run(attack.name, attacked(f, attack, robust, true), reference);
  if (!config.plainAt.includes(f)) continue;
  for (const attack of attacks.filter((a) => PLAIN_MEAN_CONTRAST.includes(a.name)))
    await run(attack.name, attacked(f, attack, plain, false), reference);
}

printTable(say, rows);
say(
  `\nrobust pipeline on a clean run against plain averaging: ${cleanRobustGapPercent >= 0 ? '+' : ''}${cleanRobustGapPercent.toFixed(2)}% (${elapsed()})`,
);
if (cli.json)
  say(
    JSON.stringify({
      rows: rows.map(({ attack, attackers, peers, aggregation, valLoss, gapPercent, rolledBack }) => ({
        attack,
        attackers,
        peers,
        valLoss,
        gapPercent,
        rolledBack,
        aggregation,
      })),
      cleanRobustGapPercent,
    }),
  );
honest.destroy();
guardModel.destroy();
finalModel.destroy();
val.close();
