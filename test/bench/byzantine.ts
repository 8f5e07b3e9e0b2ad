// `npm run bench:byzantine`: what untrusted volunteers can do to a run. Ten members per round,
// f of them attackers that craft frames from what the honest peers send (byzantine/attacks.ts);
// the relay counts its own copies with the run's robust rule, drops proven equivocators and
// guards every new state with a validation loss (byzantine/simulated-relay.ts), and credits and
// checks contributions as its Verification does (byzantine/credit-book.ts). Each row is the
// final validation loss against the same honest peers without the attackers, and what the
// attackers earned and the honest peers lost in credit; a few attacks also run under the plain
// mean, which trusts everyone, for contrast.
import { join } from 'node:path';
import { modelGemmShapes } from '../../kernels/gpt/gemm-shapes.ts';
import { GpuGpt } from '../../kernels/gpt/gpu-gpt.ts';
import { autotuneMatmul } from '../../kernels/gpu/autotune.ts';
import { openNodeContext } from '../../kernels/node/open-context.ts';
import { fileTuneCache } from '../../kernels/node/tune-cache-file.ts';
import { initParams } from '../../protocol/init-params.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import { type AggregationSettings, PLAIN_MEAN } from '../../protocol/robust-aggregate.ts';
import { DEFAULT_RUN, type RoundConfig, type RunConfig } from '../../protocol/run-config.ts';
import type { TokenBatch } from '../../protocol/token-batch.ts';
import { DEFAULT_BROWN_DIR, ensurePrepared } from '../../relay/datasets/ensure-prepared.ts';
import { loadSplitTokens, openSplit } from '../../relay/datasets/loader.ts';
import { BROWN_SOURCE } from '../../relay/datasets/source.ts';
import type { WorkVerdict } from '../../relay/rounds/work-check.ts';
import { STATE_DIR } from '../../relay/state-dir.ts';
import { ATTACKS, type Attack, PLAIN_MEAN_CONTRAST } from './byzantine/attacks.ts';
import { HonestSwarm } from './byzantine/honest-swarm.ts';
import { BYZANTINE_HELP, parseByzantineCli } from './byzantine/options.ts';
import { type Scenario, type ScenarioResult, simulateScenario } from './byzantine/simulate-byzantine.ts';
import { type ByzantineRow, formatRow, printTable } from './byzantine/table.ts';

const EVAL_BATCH = 16;
/** The sybil row: one attacker's identities, each copying an honest peer. */
const SYBILS = 5;
const SYBIL_ROW = `sybils (${SYBILS} copying identities)`;
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
const trainTokens = await loadSplitTokens(DEFAULT_BROWN_DIR, 'train');
const val = await openSplit(DEFAULT_BROWN_DIR, 'val');
const ctx = await openNodeContext('bench-byzantine');
const tuneCache = fileTuneCache(join(STATE_DIR, 'autotune.json'));
const init = initParams(model, config.seed);
const layout = paramLayout(model);
const roundWith = (aggregation: AggregationSettings): RoundConfig => ({
  ...DEFAULT_RUN.round,
  innerSteps: config.innerSteps,
  aggregation,
});
// The run as the relay would serve it: its inner optimizer, schedule and verification.
const runConfig: RunConfig = {
  ...DEFAULT_RUN,
  model,
  seed: config.seed,
  inner: {
    ...DEFAULT_RUN.inner,
    batchSize: config.batchSize,
    seqLen: config.seqLen,
    learningRate: config.learningRate,
    warmupRounds: config.warmupRounds,
  },
  round: roundWith(config.aggregation),
};

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

const honest = new HonestSwarm({ ctx, run: runConfig, init, tuneCache });
const cache = new Map<string, readonly Uint8Array[]>();
const verdicts = new Map<string, WorkVerdict>();
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
/** Checks and training over the whole bench: what verification cost. */
const spent = { checkedTokens: 0, creditedTokens: 0, checkSeconds: 0 };
interface Reference {
  readonly name: string;
  readonly valLoss: number;
  /** The honest peers' credit in that run, verified or still provisional. */
  readonly honestCredit: number;
}
async function run(
  label: string,
  scenario: Scenario,
  reference: Reference | null,
): Promise<{ valLoss: number; honestCredit: number; result: ScenarioResult }> {
  note(`${label}: ${scenario.attackers} of ${scenario.peers} (${elapsed()})`);
  const result = await simulateScenario(scenario, {
    honest,
    run: runConfig,
    layout,
    rounds: config.rounds,
    seed: config.seed,
    trainTokens,
    slots: n + SYBILS,
    init,
    score: guardScore,
    cache,
    verdicts,
    onRound: (line) => note(`  ${line} (${elapsed()})`),
  });
  const valLoss = await finalScore(result.state.weights);
  const { credit } = result;
  const honestCredit = credit.honestVerified + credit.honestProvisional;
  const verified = credit.honestVerified + credit.attackerVerified;
  spent.checkedTokens += credit.checkedTokens;
  spent.creditedTokens += credit.creditedTokens;
  spent.checkSeconds += credit.checkSeconds;
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
    attackerCreditShare: verified > 0 ? credit.attackerVerified / verified : 0,
    attackerProvisional: credit.attackerProvisional,
    honestCreditLossPercent: reference
      ? (100 * (reference.honestCredit - honestCredit)) / reference.honestCredit
      : 0,
    bans: credit.attackerBans + credit.honestBans,
    honestBans: credit.honestBans,
    checkedPercent: credit.creditedTokens > 0 ? (100 * credit.checkedTokens) / credit.creditedTokens : 0,
  };
  rows.push(row);
  say(`${formatRow(row, widths)}  (${elapsed()}${result.replayed ? ', cached frames' : ''})`);
  return { valLoss, honestCredit, result };
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
const attacked = (f: number, attack: Attack, round: RoundConfig, guard: boolean, peers = n): Scenario => ({
  peers,
  attackers: f,
  attack,
  round,
  guard: guard ? config.guard : null,
});

const plainClean = await run('none', clean(n, plain, false), null);
const robustClean = await run('none', clean(n, robust, true), {
  name: `plain mean, ${n} honest`,
  ...plainClean,
});
const cleanRobustGapPercent = (100 * (robustClean.valLoss - plainClean.valLoss)) / plainClean.valLoss;
const attacks = ATTACKS.filter((a) => !config.only || config.only.includes(a.name));
for (const f of config.attackerCounts) {
  const honestOnly = await run('none', clean(n - f, robust, true), null);
  const reference = { name: `${n - f} honest alone`, ...honestOnly };
  for (const attack of attacks) await run(attack.name, attacked(f, attack, robust, true), reference);
  if (!config.plainAt.includes(f)) continue;
  for (const attack of attacks.filter((a) => PLAIN_MEAN_CONTRAST.includes(a.name)))
    await run(attack.name, attacked(f, attack, plain, false), reference);
}
// One attacker behind SYBILS identities beside all n honest peers, each copying a different one.
if (!config.only || config.only.includes('sybils')) {
  const copied = ATTACKS.find((a) => a.name === 'copied') as Attack;
  await run(SYBIL_ROW, attacked(SYBILS, { ...copied, name: SYBIL_ROW }, robust, true, n + SYBILS), {
    name: `${n} honest alone`,
    ...robustClean,
  });
}

printTable(say, rows);
say(
  `\nrobust pipeline on a clean run against plain averaging: ${cleanRobustGapPercent >= 0 ? '+' : ''}${cleanRobustGapPercent.toFixed(2)}% (${elapsed()})`,
);
const { probationRounds, checkProbability } = runConfig.verification;
say(
  `work checks: ${((100 * spent.checkedTokens) / Math.max(1, spent.creditedTokens)).toFixed(1)}% of credited tokens redone over the bench ` +
    `(every contribution of an identity on probation, the first ${probationRounds} passed checks; then ${100 * checkProbability}% sampled), ` +
    `${spent.checkSeconds.toFixed(0)} s of CPU redo; an established volunteer's steady state is ${100 * checkProbability}% of its training FLOPs`,
);
if (cli.json)
  say(
    JSON.stringify({
      rows: rows.map((row) => ({
        attack: row.attack,
        attackers: row.attackers,
        peers: row.peers,
        valLoss: row.valLoss,
        gapPercent: row.gapPercent,
        rolledBack: row.rolledBack,
        aggregation: row.aggregation,
        attackerCreditShare: row.attackerCreditShare,
        honestCreditLossPercent: row.honestCreditLossPercent,
        attackerProvisional: row.attackerProvisional,
        bans: row.bans,
        honestBans: row.honestBans,
        checkedPercent: row.checkedPercent,
      })),
      cleanRobustGapPercent,
      checkedPercent: (100 * spent.checkedTokens) / Math.max(1, spent.creditedTokens),
      checkSeconds: spent.checkSeconds,
    }),
  );
honest.destroy();
guardModel.destroy();
finalModel.destroy();
val.close();
