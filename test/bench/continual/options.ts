// `npm run bench:continual` settings: one config object with a reason per default, flags for
// the knobs a search turns, `--config FILE` for the rest (flags win over the file).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_TRAIN } from '../../../kernels/train/config.ts';
import { type GptConfig, validateConfig } from '../../../protocol/gpt-config.ts';
import { int } from '../swarm/options.ts';

export interface ContinualBenchConfig {
  readonly model: GptConfig;
  readonly batchSize: number;
  readonly seqLen: number;
  /** Steps of the A phase (the model a continual method is handed). */
  readonly aSteps: number;
  /** Steps of the B phase; re-training from scratch takes aSteps + bSteps. */
  readonly bSteps: number;
  /** Peak rate of A's run and of re-training. */
  readonly learningRate: number;
  /** Re-warming's peak as a fraction of A's. */
  readonly rewarmRatio: number;
  readonly minLrRatio: number;
  /** Linear warmup steps of every warmup (A, re-warm, re-training, infinite). */
  readonly warmupSteps: number;
  /** Fractions of A replayed in the B phase: one re-warm + re-decay row per fraction. */
  readonly replay: readonly number[];
  /** Fractions of A replayed in the infinite schedule's B phase: one more infinite row per fraction. */
  readonly infiniteReplay: readonly number[];
  /** The infinite schedule's plateau as a fraction of the peak. */
  readonly plateauRatio: number;
  /** Its cosine from the peak down to the plateau, as a fraction of the A phase (after the warmup). */
  readonly decayFraction: number;
  /** Its anneal to the floor at the end of B, as a fraction of the B phase. */
  readonly annealFraction: number;
  /** Validation batches of batchSize × seqLen per distribution (at most what it holds). */
  readonly evalBatches: number;
  /** Each seed trains every method from its own θ_0 and batches; losses are averaged. */
  readonly seeds: readonly number[];
}

export const DEFAULT_CONTINUAL: ContinualBenchConfig = {
  // The swarm bench's search-tier model (about 110k parameters): minutes a row on 2 cores.
  model: { vocabSize: 256, contextLength: 32, dModel: 64, nLayer: 2, nHead: 4 },
  batchSize: 16, // 16 × 32 = 512 tokens a step
  seqLen: 32,
  // 150k tokens a phase: about 6 minutes a phase on this machine's 2 shared cores.
  aSteps: 300,
  // B as large as A, as in the paper's setting: continual methods then pay half of re-training.
  bSteps: 300,
  learningRate: DEFAULT_TRAIN.learningRate,
  rewarmRatio: 1, // the paper re-warms to A's own peak
  minLrRatio: DEFAULT_TRAIN.minLrRatio,
  warmupSteps: 30, // the train command's warmup
  replay: [0.05],
  infiniteReplay: [], // the paper's infinite schedule has no replay; a search adds rows
  plateauRatio: 0.3,
  decayFraction: 0.2,
  annealFraction: 0.2, // WSD's usual 10-20% decay
  evalBatches: 32, // 16k tokens of each validation split (A holds 98k, B 67k)
  seeds: [1],
};

export const CONTINUAL_HELP = `Usage: npm run bench:continual -- [options]

Continual pretraining on the Brown Corpus split by genre: A (news, editorial, reviews,
learned) then B (fiction, mystery, science fiction, adventure, romance, humor). A model trained
on A continues on B by (1) no re-warm, (2) re-warm + re-decay, (3) the same with a replay of A,
(4) an infinite schedule with cooldown (with --infinite-replay, also with a replay of A),
against (5) re-training from scratch on A ∪ B with the same total tokens. Compute: tokens
trained; a continual method counts only its B phase.

  --a-steps N        A phase steps (default ${DEFAULT_CONTINUAL.aSteps})
  --b-steps N        B phase steps; re-training takes A + B (default ${DEFAULT_CONTINUAL.bSteps})
  --replay F,G       replay fractions of A, one row each (default ${DEFAULT_CONTINUAL.replay.join(',')})
  --infinite-replay F,G
                     replay fractions of A in the infinite schedule's B phase, one more
                     infinite row each (default none)
  --rewarm R         re-warm peak as a fraction of A's (default ${DEFAULT_CONTINUAL.rewarmRatio})
  --plateau R        infinite schedule's plateau as a fraction of the peak (default ${DEFAULT_CONTINUAL.plateauRatio})
  --seeds A,B,...    train every method once per seed; losses are averaged (default ${DEFAULT_CONTINUAL.seeds.join(',')})
  --config FILE      JSON with any of: ${Object.keys(DEFAULT_CONTINUAL).join(', ')}
  --json             end with one JSON line: {"rows": [{"method", "valLossA", "valLossB", "computeRatio"}, ...]}
  -h, --help         this text`;

export interface ContinualCli {
  readonly config: ContinualBenchConfig;
  readonly json: boolean;
}

export function parseContinualCli(argv: readonly string[]): ContinualCli | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'a-steps': { type: 'string' },
      'b-steps': { type: 'string' },
      replay: { type: 'string' },
      'infinite-replay': { type: 'string' },
      rewarm: { type: 'string' },
      plateau: { type: 'string' },
      seeds: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const file: Partial<ContinualBenchConfig> = values.config
    ? JSON.parse(readFileSync(values.config, 'utf8'))
    : {};
  const base: ContinualBenchConfig = { ...DEFAULT_CONTINUAL, ...file };
  const config: ContinualBenchConfig = {
    ...base,
    aSteps: int('a-steps', values['a-steps'], base.aSteps),
    bSteps: int('b-steps', values['b-steps'], base.bSteps),
    replay: fractions('replay', values.replay, base.replay),
    infiniteReplay: fractions('infinite-replay', values['infinite-replay'], base.infiniteReplay),
    rewarmRatio: values.rewarm === undefined ? base.rewarmRatio : fraction('rewarm', values.rewarm),
    plateauRatio: values.plateau === undefined ? base.plateauRatio : fraction('plateau', values.plateau),
    seeds: values.seeds === undefined ? base.seeds : values.seeds.split(',').map((s) => int('seeds', s, 0)),
  };
  validateConfig(config.model);
  if (config.warmupSteps + config.decayFraction * config.aSteps > config.aSteps)
    throw new RangeError('the infinite schedule must reach its plateau within the A phase');
  if (!(config.annealFraction > 0 && config.annealFraction <= 1))
    throw new RangeError(`annealFraction must be in (0, 1], got ${config.annealFraction}`);
  return { config, json: values.json ?? false };
}

/** A flag's comma-separated numbers in (0, 1], or the fallback without the flag. */
function fractions(name: string, text: string | undefined, fallback: readonly number[]): readonly number[] {
  return text === undefined ? fallback : text.split(',').map((f) => fraction(name, f));
}

/** A flag's number in (0, 1]. */
function fraction(name: string, text: string): number {
  const value = Number(text);
  if (!(value > 0 && value <= 1)) throw new RangeError(`--${name} must be in (0, 1], got ${text}`);
  return value;
}
