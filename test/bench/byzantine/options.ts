// `npm run bench:byzantine` settings. The default is the small model (dModel 64, 2 layers),
// short rounds and every attack at 1, 2 and 3 attackers of 10, which takes about an hour and a
// half on a 2-core machine with no GPU (the relay's CPU redos of checked rounds included);
// `--model default` runs the record rows (2 attackers) on the default model.
import { parseArgs } from 'node:util';
import { DEFAULT_TRAIN } from '../../../kernels/train/config.ts';
import { DEFAULT_MODEL, type GptConfig } from '../../../protocol/gpt-config.ts';
import type { AggregationSettings } from '../../../protocol/robust-aggregate.ts';
import { DEFAULT_RUN, type GuardConfig } from '../../../protocol/run-config.ts';
import { int } from '../swarm/options.ts';

export const SMALL_MODEL: GptConfig = { ...DEFAULT_MODEL, dModel: 64, nLayer: 2 };

export interface ByzantineBenchConfig {
  readonly model: GptConfig;
  readonly modelName: 'small' | 'default';
  /** n: members of every round, attackers included. */
  readonly peers: number;
  /** f values: each attack runs with this many of the n members attacking. */
  readonly attackerCounts: readonly number[];
  /** Attacks to run (names from attacks.ts); all when absent. */
  readonly only: readonly string[] | null;
  /** Attacker counts at which the contrast attacks also run under the plain mean (attacks.ts). */
  readonly plainAt: readonly number[];
  readonly rounds: number;
  /** H: inner AdamW steps per round. */
  readonly innerSteps: number;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly learningRate: number;
  /** The inner learning rate's warmup, in rounds (the relay's schedule, protocol/run-config.ts). */
  readonly warmupRounds: number;
  /** The relay's robust rule; the run config's default unless a flag changes it. */
  readonly aggregation: AggregationSettings;
  readonly guard: GuardConfig;
  /** Validation batches of 16 x seqLen for the final loss (after the guard's held-out batch). */
  readonly evalBatches: number;
  readonly seed: number;
}

export const DEFAULT_BYZANTINE: ByzantineBenchConfig = {
  model: SMALL_MODEL,
  modelName: 'small',
  peers: 10,
  attackerCounts: [1, 2, 3],
  only: null,
  plainAt: [2], // the record rows' count; elsewhere the contrast would only repeat itself
  rounds: 8, // enough for the plain mean to come apart under the strong attacks
  innerSteps: 8, // H kept small: the matrix is ~50 runs of 10 peers on 2 CPU cores
  batchSize: 4,
  seqLen: DEFAULT_TRAIN.seqLen,
  learningRate: DEFAULT_RUN.inner.learningRate,
  warmupRounds: 1,
  aggregation: DEFAULT_RUN.round.aggregation,
  guard: DEFAULT_RUN.guard,
  evalBatches: 32,
  seed: DEFAULT_TRAIN.seed,
};

export const BYZANTINE_HELP = `Usage: npm run bench:byzantine -- [options]

Plays untrusted volunteers against the round pipeline: n peers per round (the honest ones real
RoundPeers training the token ranges the relay assigns, the attackers crafting frames from what
the honest ones send), the relay counting its own copies with the robust rule, dropping proven
equivocators, guarding each new state with a validation loss on a fixed held-out batch, and
checking contributions with its own Verification and work check (a CPU redo of the round). One
row per attack and number of attackers: final validation loss, gap to the same honest peers
without attackers, rounds rolled back; the attackers' share of verified credit, their credit
still provisional, honest credit lost against that run, identities banned, and the share of
credited tokens redone. A last row puts 5 copying sybils beside all n honest peers.

  --model small|default  the small model (dModel 64, 2 layers; default) or the default model,
                         which runs only the record rows (2 attackers)
  --peers N              members per round, attackers included (default ${DEFAULT_BYZANTINE.peers})
  --attackers LIST       comma-separated attacker counts (default ${DEFAULT_BYZANTINE.attackerCounts.join(',')})
  --only NAMES           comma-separated attack names (attacks.ts; "sybils" for the sybil row)
  --plain-at LIST        attacker counts with plain-mean contrast rows (default ${DEFAULT_BYZANTINE.plainAt.join(',')}; 0: none)
  --rounds R             outer rounds (default ${DEFAULT_BYZANTINE.rounds})
  --inner-steps H        AdamW steps per round (default ${DEFAULT_BYZANTINE.innerSteps})
  --rule NAME            mean | clipped-mean | centered-clip (default: the run config's)
  --norm-bound X, --clip-radius X, --iterations N, --min-alignment X
                         the robust rule's settings (protocol/robust-aggregate.ts)
  --json                 end with one JSON line: {"rows": [{"attack","attackers","peers","valLoss","gapPercent",
                         "rolledBack","aggregation","attackerCreditShare","honestCreditLossPercent",
                         "attackerProvisional","bans","honestBans","checkedPercent"}, ...],
                         "cleanRobustGapPercent","checkedPercent","checkSeconds"}
  -h, --help             this text`;

export interface ByzantineCli {
  readonly config: ByzantineBenchConfig;
  readonly json: boolean;
}

export function parseByzantineCli(argv: readonly string[]): ByzantineCli | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      model: { type: 'string' },
      peers: { type: 'string' },
      attackers: { type: 'string' },
      only: { type: 'string' },
      'plain-at': { type: 'string' },
      rounds: { type: 'string' },
      'inner-steps': { type: 'string' },
      rule: { type: 'string' },
      'norm-bound': { type: 'string' },
      'clip-radius': { type: 'string' },
      iterations: { type: 'string' },
      'min-alignment': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  if (values.model !== undefined && values.model !== 'small' && values.model !== 'default')
    throw new RangeError(`--model must be small or default, got ${values.model}`);
  const defaultModel = values.model === 'default';
  const base: ByzantineBenchConfig = defaultModel
    ? { ...DEFAULT_BYZANTINE, model: DEFAULT_MODEL, modelName: 'default', attackerCounts: [2] }
    : DEFAULT_BYZANTINE;
  const aggregation = {
    ...base.aggregation,
    ...(values.rule === undefined ? {} : { rule: values.rule as AggregationSettings['rule'] }),
    ...(values['norm-bound'] === undefined ? {} : { normBound: Number(values['norm-bound']) }),
    ...(values['clip-radius'] === undefined ? {} : { clipRadius: Number(values['clip-radius']) }),
    ...(values.iterations === undefined ? {} : { iterations: Number(values.iterations) }),
    ...(values['min-alignment'] === undefined ? {} : { minAlignment: Number(values['min-alignment']) }),
  };
  const config: ByzantineBenchConfig = {
    ...base,
    peers: int('peers', values.peers, base.peers),
    attackerCounts: values.attackers?.split(',').map((a) => int('attackers', a, 0)) ?? base.attackerCounts,
    only: values.only?.split(',').map((s) => s.trim()) ?? null,
    plainAt: values['plain-at']?.split(',').map(Number) ?? base.plainAt,
    rounds: int('rounds', values.rounds, base.rounds),
    innerSteps: int('inner-steps', values['inner-steps'], base.innerSteps),
    aggregation,
  };
  for (const f of config.attackerCounts)
    if (f < 1 || 2 * f >= config.peers)
      throw new RangeError(`--attackers: ${f} of ${config.peers} is not a minority`);
  return { config, json: values.json ?? false };
}
