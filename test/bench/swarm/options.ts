// `npm run bench:swarm` settings: flags for the common knobs, a JSON file for the rest
// (`--config FILE`, any subset of SwarmBenchConfig; flags win over the file).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_TRAIN } from '../../../kernels/train/config.ts';
import {
  type CompressionSettings,
  DENSE,
  validateCompression,
} from '../../../protocol/compression-settings.ts';
import { DEFAULT_MODEL, type GptConfig, validateConfig } from '../../../protocol/gpt-config.ts';
import type { QuantBits } from '../../../protocol/quantize.ts';
import type { AggregationSettings } from '../../../protocol/robust-aggregate.ts';
import type { Overlap } from './simulate-diloco.ts';

export interface MethodSpec {
  readonly name: string;
  readonly compression: CompressionSettings;
  /** The outer step for this method; the config's when absent. */
  readonly outerLr?: number;
  readonly outerMomentum?: number;
  /** How contributions are combined; the plain mean when absent. */
  readonly aggregation?: AggregationSettings;
  /** Bits of the aggregate sent back; 32 for dense methods, else the run's default, when absent. */
  readonly aggregateBits?: QuantBits;
  /** Round r+1 trains while round r's frames travel (simulate-diloco.ts). */
  readonly overlap?: Overlap;
}

export interface SwarmBenchConfig {
  /** The model every method trains; the default model unless a quick look wants a smaller one. */
  readonly model: GptConfig;
  /** P: virtual peers. */
  readonly peers: number;
  /** R: outer rounds; every method trains on P x R x H x batch x seqLen tokens. */
  readonly rounds: number;
  /** H: inner AdamW steps per round. */
  readonly innerSteps: number;
  /** Sequences per peer per step (the baseline's global batch is P times this). */
  readonly batchSize: number;
  readonly seqLen: number;
  readonly learningRate: number;
  readonly warmupSteps: number;
  readonly outerLr: number;
  readonly outerMomentum: number;
  /** Validation batches of 16 x seqLen for the final loss. */
  readonly evalBatches: number;
  /** Each seed trains every method from its own θ_0 and batches; gaps are averaged over them. */
  readonly seeds: readonly number[];
  /** The DiLoCo variants; the DDP baseline always runs first. */
  readonly methods: readonly MethodSpec[];
}

export const DEFAULT_SWARM: SwarmBenchConfig = {
  model: DEFAULT_MODEL,
  peers: 4,
  // 30 outer steps: with 6, DiLoCo itself trailed DDP by 5.8%, and no compression setting could
  // be told apart from too few outer steps. The same 300 inner steps as before.
  rounds: 30,
  innerSteps: 10,
  batchSize: 4,
  seqLen: DEFAULT_TRAIN.seqLen,
  learningRate: DEFAULT_TRAIN.learningRate,
  warmupSteps: DEFAULT_TRAIN.warmupSteps,
  outerLr: 0.7, // DiLoCo's outer step; methods below may override it
  outerMomentum: 0.9,
  evalBatches: 64,
  seeds: [DEFAULT_TRAIN.seed],
  // What the search on a small model (README, "Compressed rounds") left standing: plain
  // averaging (outer lr 1, no momentum) over few rounds, the run's previous default (random 70%
  // at 1 bit), and SparseLoCo's top-k per chunk with 2-bit values and decayed error feedback,
  // which beat both at less than half the bits.
  methods: [
    { name: 'DiLoCo fp32, lr 1, no momentum', compression: DENSE, outerLr: 1, outerMomentum: 0 },
    {
      name: 'DiLoCo r70% q1/512, lr 1, no momentum',
      compression: { randomK: 0.7, topK: 1, bits: 1, blockSize: 512 },
      outerLr: 1,
      outerMomentum: 0,
    },
    sparseLoCo(0.03),
    sparseLoCo(0.02),
    sparseLoCo(0.01),
  ],
};

/** SparseLoCo at a top-k fraction per chunk of 4,096, 2 bits per 64 values, EF decay 0.95. */
function sparseLoCo(topK: number): MethodSpec {
  return {
    name: `SparseLoCo top ${topK * 100}% per 4096 q2/64, EF decay 0.95, lr 1`,
    compression: { randomK: 1, topK, bits: 2, blockSize: 64, chunkSize: 4096, errorDecay: 0.95 },
    outerLr: 1,
    outerMomentum: 0,
  };
}

/**
 * The search tier (`--fast`): a model an eighth the size and sequences half as long, so a row
 * takes minutes here, with more outer steps than the record's; three seeds, since the
 * differences it has to tell apart are a few percent.
 */
export const FAST_SWARM: Partial<SwarmBenchConfig> = {
  model: { vocabSize: 256, contextLength: 32, dModel: 64, nLayer: 2, nHead: 4 },
  rounds: 40,
  innerSteps: 8,
  batchSize: 4,
  seqLen: 32,
  warmupSteps: 16,
  evalBatches: 16,
  seeds: [1, 2, 3],
};

export const SWARM_HELP = `Usage: npm run bench:swarm -- [options]

Trains the default model on the Brown Corpus with P virtual peers in one process (sharing
the GPU), once per method: the dense data-parallel baseline (DDP) and DiLoCo with and
without compression, all on the same tokens. Prints bytes sent per peer, the reduction
against DDP, the final validation loss and its gap to DDP.

  --peers P          virtual peers (default ${DEFAULT_SWARM.peers})
  --rounds R         outer rounds (default ${DEFAULT_SWARM.rounds})
  --inner-steps H    AdamW steps per round (default ${DEFAULT_SWARM.innerSteps})
  --batch N          sequences per peer per step (default ${DEFAULT_SWARM.batchSize})
  --seeds A,B,...    train every method once per seed; gaps are averaged (default ${DEFAULT_SWARM.seeds.join(',')})
  --fast             the search tier: a small model, ${FAST_SWARM.rounds} rounds of ${FAST_SWARM.innerSteps} steps, seeds ${FAST_SWARM.seeds?.join(',')}
                     (minutes a row; flags and --config still apply on top)
  --config FILE      JSON with any of: ${Object.keys(DEFAULT_SWARM).join(', ')}
                     (methods: [{"name", "compression": {"randomK", "topK", "bits", "blockSize",
                     "chunkSize"?, "errorDecay"?}, "outerLr"?, "outerMomentum"?, "aggregateBits"?,
                     "overlap"?: "delayed" | "eager"}]; model: {"vocabSize", "contextLength",
                     "dModel", "nLayer", "nHead"} for a quick look at a smaller model)
  --only NAMES       comma-separated method names to run (DDP always runs)
  --json             end with one JSON line: {"tokens","seeds","rows":[{"method","bytesPerPeer","reduction","valLoss",
                     "gapPercent","gapPercentBySeed","bitsPerParamPerStep","computeSecondsPerRound","roundSecondsAt20Mbit"}]}
  -h, --help         this text`;

export interface SwarmCli {
  readonly config: SwarmBenchConfig;
  readonly json: boolean;
}

export function parseSwarmCli(argv: readonly string[]): SwarmCli | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      peers: { type: 'string' },
      rounds: { type: 'string' },
      'inner-steps': { type: 'string' },
      batch: { type: 'string' },
      seeds: { type: 'string' },
      fast: { type: 'boolean' },
      config: { type: 'string' },
      only: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const file: Partial<SwarmBenchConfig> = values.config
    ? JSON.parse(readFileSync(values.config, 'utf8'))
    : {};
  const base: SwarmBenchConfig = { ...DEFAULT_SWARM, ...(values.fast ? FAST_SWARM : {}), ...file };
  const merged: SwarmBenchConfig = {
    ...base,
    peers: int('peers', values.peers, base.peers),
    rounds: int('rounds', values.rounds, base.rounds),
    innerSteps: int('inner-steps', values['inner-steps'], base.innerSteps),
    batchSize: int('batch', values.batch, base.batchSize),
    seeds: values.seeds === undefined ? base.seeds : values.seeds.split(',').map((s) => int('seeds', s, 0)),
  };
  const only = values.only?.split(',').map((s) => s.trim());
  const methods = only ? merged.methods.filter((m) => only.includes(m.name)) : merged.methods;
  for (const method of methods) validateCompression(method.compression);
  validateConfig(merged.model);
  return { config: { ...merged, methods }, json: values.json ?? false };
}

/** A flag's positive integer, or `fallback` when the flag is absent. */
export function int(name: string, text: string | undefined, fallback: number): number {
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`--${name} must be a positive integer, got ${text ?? value}`);
  return value;
}
