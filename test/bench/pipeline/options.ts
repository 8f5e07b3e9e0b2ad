// `npm run bench:pipeline` settings: flags for the common knobs, a JSON file for the rest
// (`--config FILE`, any subset of PipelineBenchConfig; flags win over the file).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_TRAIN } from '../../../kernels/train/config.ts';
import { ACTIVATION_CODECS, type ActivationCodec, isDeltaCodec } from '../../../protocol/activation-frame.ts';
import { DEFAULT_MODEL, type GptConfig, validateConfig } from '../../../protocol/gpt-config.ts';
import { isValidBlockSize } from '../../../protocol/quantize.ts';
import { DEFAULT_PIPELINE as RUN_PIPELINE } from '../../../protocol/run-config.ts';

/** What crosses every boundary of a split model, one row of the table per stage count. */
export interface CodecSpec {
  readonly forward: ActivationCodec;
  readonly backward: ActivationCodec;
  /**
   * What a delta codec sends when the receiver has no base for the sample yet (its first
   * crossing): the delta codec's own width, plain, when absent (activation-link.ts says why).
   */
  readonly firstCrossing?: ActivationCodec;
  /** Values per quantization scale for this setting; the config's blockSize when absent. */
  readonly blockSize?: number;
}

export interface PipelineBenchConfig {
  /** The model every row trains; the default model unless a quick look wants a smaller one. */
  readonly model: GptConfig;
  /** Optimizer steps; every row trains on steps x batchSize x seqLen tokens. */
  readonly steps: number;
  /** Sequences per step, cut into `microbatches` microbatches by the pipelines. */
  readonly batchSize: number;
  /** M: microbatches per step in the 1F1B schedule. */
  readonly microbatches: number;
  readonly seqLen: number;
  /**
   * Batches in the fixed training pool, visited in the same order every epoch: steps / pool
   * epochs, so that each sample comes back and the delta codecs (AQ-SGD) find their base.
   */
  readonly poolBatches: number;
  /** Peak learning rate, reached when the warmup ends; cosine to 10% of it by the last step. */
  readonly learningRate: number;
  readonly warmupSteps: number;
  /** AdamW's second-moment decay and denominator guard (a spike's suspects besides the rate). */
  readonly beta2: number;
  readonly eps: number;
  /** Validation batches of 16 x seqLen for the final loss. */
  readonly evalBatches: number;
  readonly seed: number;
  /** Values per quantization scale, unless a codec setting says otherwise. */
  readonly blockSize: number;
  /** The split models' stage counts; the unsplit baseline always runs first. */
  readonly stages: readonly number[];
  /** Codec settings, each run at every stage count. */
  readonly codecs: readonly CodecSpec[];
}

// Sized to finish within about 30 minutes on a shared 2-core machine with SwiftShader, where a
// pipelined step (S stages x M microbatches of separate submissions and read-backs) costs 2 to 4
// times an unsplit one: 13 rows of 40 steps. Longer runs: --steps and --pool; the other codecs
// below 4 bits: --config test/bench/pipeline/sub-4-bit.json.
export const DEFAULT_PIPELINE: PipelineBenchConfig = {
  model: DEFAULT_MODEL,
  steps: 40, // 4 epochs of the pool below
  batchSize: 8, // 8 x 64 = 512 tokens per step
  microbatches: 2, // 4 sequences each; more microbatches cost more round trips per step
  seqLen: DEFAULT_TRAIN.seqLen,
  poolBatches: 10, // 80 sequences: each crosses 4 times, the last 3 as deltas
  // A pipeline run's peak rate: at DEFAULT_TRAIN's 3e-3 the unsplit model and every split spike
  // at step 9 of 100 (README, "Pipeline parallelism"), and a spike decides a row's gap.
  learningRate: RUN_PIPELINE.learningRate,
  warmupSteps: 4, // 10% of the run, as DEFAULT_TRAIN's 30 of 600 is 5%
  beta2: DEFAULT_TRAIN.beta2,
  eps: DEFAULT_TRAIN.eps,
  evalBatches: 16,
  seed: DEFAULT_TRAIN.seed,
  blockSize: 128, // the link's default: one f32 scale per 128 values
  stages: [2, 4],
  codecs: [
    { forward: 'fp32', backward: 'fp32' },
    { forward: 'int8', backward: 'int8' },
    { forward: 'int4', backward: 'int8' },
    { forward: 'delta-int4', backward: 'int8' }, // AQ-SGD: deltas up, gradients plain
    // 4 bits both ways: 1/8 of fp32 before the scales and the header, 7.5x with one scale per
    // 128 values (7.9x per 1024: --block-size).
    { forward: 'delta-int4', backward: 'int4' },
    // Below 4 bits one way: 4-bit deltas up, 3-bit gradients rounded stochastically down, 8.5x
    // (the README's sub-4-bit tables: at learning rate 1e-3 within 1% on 2 and 4 stages).
    { forward: 'delta-int4', backward: 'int3-sr' },
  ],
};

/**
 * "fwd/bwd", then the first crossing's codec and the block size when the setting has its own,
 * e.g. "delta-int4/int4 b1024", "delta-int2/int4-sr first-int8".
 */
export function codecName(spec: CodecSpec): string {
  const first = spec.firstCrossing === undefined ? '' : ` first-${spec.firstCrossing}`;
  return `${spec.forward}/${spec.backward}${first}${spec.blockSize === undefined ? '' : ` b${spec.blockSize}`}`;
}

const UNSPLIT = 'unsplit';

export const PIPELINE_HELP = `Usage: npm run bench:pipeline -- [options]

Trains the default model on the Brown Corpus in one process: unsplit (GpuGpt, the baseline),
then split into pipeline stages (PipelineRunner, 1F1B, in-memory links that carry the encoded
frames a peer would send) with each codec setting, all on the same batches. The batches come
from a fixed pool visited once per epoch, so that samples come back and the delta codecs
(AQ-SGD) send the change of a sample's activation since it last crossed. Prints the activation
bytes per token each way (per boundary, whole run), the reduction against fp32 links, the final
validation loss and its gap to the unsplit model.

Goal: >= 8x less activation traffic than fp32 with validation loss within 2% of the unsplit
model. (4-bit codes both ways top out just under 8x, 7.5x at block size 128: their scales and
the frame header come on top of 1/8 of fp32. Below 4 bits, 3- and 2-bit AQ-SGD deltas forward
with stochastically rounded 4-bit gradients back:
npm run bench:pipeline -- --config test/bench/pipeline/sub-4-bit.json.)

  --steps N          optimizer steps per row (default ${DEFAULT_PIPELINE.steps})
  --batch N          sequences per step (default ${DEFAULT_PIPELINE.batchSize})
  --microbatches M   microbatches per step; must divide the batch (default ${DEFAULT_PIPELINE.microbatches})
  --pool N           batches in the fixed training pool (default ${DEFAULT_PIPELINE.poolBatches})
  --stages LIST      comma-separated stage counts (default ${DEFAULT_PIPELINE.stages.join(',')})
  --block-size N     values per quantization scale (default ${DEFAULT_PIPELINE.blockSize})
  --lr X             peak learning rate (default ${DEFAULT_PIPELINE.learningRate})
  --warmup N         warmup steps, 0 for none (default ${DEFAULT_PIPELINE.warmupSteps})
  --beta2 X          AdamW's beta2 (default ${DEFAULT_PIPELINE.beta2})
  --eps X            AdamW's epsilon (default ${DEFAULT_PIPELINE.eps})
  --seed N           initial weights and batches (default ${DEFAULT_PIPELINE.seed})
  --config FILE      JSON with any of: ${Object.keys(DEFAULT_PIPELINE).join(', ')}
                     (codecs: [{"forward", "backward", "firstCrossing"?, "blockSize"?}], each one of
                     ${ACTIVATION_CODECS.join(', ')}; model: {"vocabSize", "contextLength",
                     "dModel", "nLayer", "nHead"} for a quick look at a smaller model)
  --only NAMES       comma-separated codec settings to run, as the table names them, e.g.
                     fp32/fp32,delta-int4/int8 (the unsplit baseline always runs); "unsplit"
                     runs the baseline alone
  --json             end with one JSON line: {"rows":[{"stages","codec","bytesPerTokenForward",
                     "bytesPerTokenBackward","reduction","valLoss","gapPercent"}]}
  -h, --help         this text`;

export interface PipelineCli {
  readonly config: PipelineBenchConfig;
  readonly json: boolean;
}

/** Parses the command line (and the file it names); null for --help. Throws readable errors. */
export function parsePipelineCli(
  argv: readonly string[],
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): PipelineCli | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      steps: { type: 'string' },
      batch: { type: 'string' },
      microbatches: { type: 'string' },
      pool: { type: 'string' },
      stages: { type: 'string' },
      'block-size': { type: 'string' },
      lr: { type: 'string' },
      warmup: { type: 'string' },
      beta2: { type: 'string' },
      eps: { type: 'string' },
      seed: { type: 'string' },
      config: { type: 'string' },
      only: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const file = values.config ? readConfigFile(values.config, readFile) : {};
  const merged: PipelineBenchConfig = {
    ...DEFAULT_PIPELINE,
    ...file,
    steps: int('steps', values.steps, file.steps ?? DEFAULT_PIPELINE.steps),
    batchSize: int('batch', values.batch, file.batchSize ?? DEFAULT_PIPELINE.batchSize),
    microbatches: int(
      'microbatches',
      values.microbatches,
      file.microbatches ?? DEFAULT_PIPELINE.microbatches,
    ),
    poolBatches: int('pool', values.pool, file.poolBatches ?? DEFAULT_PIPELINE.poolBatches),
    blockSize: int('block-size', values['block-size'], file.blockSize ?? DEFAULT_PIPELINE.blockSize),
    learningRate: num('lr', values.lr, file.learningRate ?? DEFAULT_PIPELINE.learningRate),
    warmupSteps: num('warmup', values.warmup, file.warmupSteps ?? DEFAULT_PIPELINE.warmupSteps),
    beta2: num('beta2', values.beta2, file.beta2 ?? DEFAULT_PIPELINE.beta2),
    eps: num('eps', values.eps, file.eps ?? DEFAULT_PIPELINE.eps),
    seed: num('seed', values.seed, file.seed ?? DEFAULT_PIPELINE.seed),
    stages:
      values.stages === undefined
        ? (file.stages ?? DEFAULT_PIPELINE.stages)
        : values.stages.split(',').map((s) => int('stages', s.trim(), 0)),
  };
  validatePipelineBench(merged);
  return {
    config: { ...merged, codecs: selectCodecs(merged.codecs, values.only) },
    json: values.json ?? false,
  };
}

function readConfigFile(path: string, readFile: (path: string) => string): Partial<PipelineBenchConfig> {
  let value: unknown;
  try {
    value = JSON.parse(readFile(path));
  } catch (error) {
    throw new Error(`--config ${path}: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError(`--config ${path}: expected a JSON object`);
  const unknown = Object.keys(value).filter((key) => !(key in DEFAULT_PIPELINE));
  if (unknown.length > 0)
    throw new RangeError(
      `--config ${path}: unknown ${unknown.length === 1 ? 'key' : 'keys'} ${unknown.join(', ')} (known: ${Object.keys(DEFAULT_PIPELINE).join(', ')})`,
    );
  return value as Partial<PipelineBenchConfig>;
}

function selectCodecs(codecs: readonly CodecSpec[], only: string | undefined): readonly CodecSpec[] {
  if (only === undefined) return codecs;
  // The baseline alone: a quick look at the optimizer, whose spikes every split shares.
  if (only.trim() === UNSPLIT) return [];
  const names = only.split(',').map((s) => s.trim());
  const known = codecs.map(codecName);
  const missing = names.filter((name) => !known.includes(name));
  if (missing.length > 0)
    throw new RangeError(`--only: no codec setting named ${missing.join(', ')} (known: ${known.join(', ')})`);
  return codecs.filter((spec) => names.includes(codecName(spec)));
}

/** Throws a RangeError naming the first setting the bench cannot run. */
export function validatePipelineBench(config: PipelineBenchConfig): void {
  validateConfig(config.model);
  for (const [name, value] of Object.entries({
    steps: config.steps,
    batchSize: config.batchSize,
    microbatches: config.microbatches,
    seqLen: config.seqLen,
    poolBatches: config.poolBatches,
    evalBatches: config.evalBatches,
  }))
    positive(name, value);
  if (config.batchSize % config.microbatches !== 0)
    throw new RangeError(`batch ${config.batchSize} does not split into ${config.microbatches} microbatches`);
  if (config.seqLen > config.model.contextLength)
    throw new RangeError(
      `seqLen ${config.seqLen} exceeds the model's context of ${config.model.contextLength}`,
    );
  if (!(config.learningRate > 0))
    throw new RangeError(`learningRate must be > 0, got ${config.learningRate}`);
  if (!(Number.isInteger(config.warmupSteps) && config.warmupSteps >= 0))
    throw new RangeError(`warmupSteps must be a non-negative integer, got ${config.warmupSteps}`);
  if (!(config.beta2 >= 0 && config.beta2 < 1))
    throw new RangeError(`beta2 must be in [0, 1), got ${config.beta2}`);
  if (!(config.eps > 0 && Number.isFinite(config.eps)))
    throw new RangeError(`eps must be > 0, got ${config.eps}`);
  if (!Number.isInteger(config.seed)) throw new RangeError(`seed must be an integer, got ${config.seed}`);
  blockSize('blockSize', config.blockSize);
  if (!Array.isArray(config.stages) || config.stages.length === 0)
    throw new RangeError('stages must list at least one stage count');
  for (const S of config.stages) {
    if (!(Number.isInteger(S) && S >= 2 && S <= config.model.nLayer))
      throw new RangeError(
        `stages: ${S} is not a split of ${config.model.nLayer} layers into 2 or more stages`,
      );
  }
  if (!Array.isArray(config.codecs) || config.codecs.length === 0)
    throw new RangeError('codecs must list at least one setting');
  for (const spec of config.codecs) {
    for (const direction of ['forward', 'backward'] as const)
      if (!ACTIVATION_CODECS.includes(spec[direction]))
        throw new RangeError(
          `codecs: ${direction} codec ${JSON.stringify(spec[direction])} is not one of ${ACTIVATION_CODECS.join(', ')}`,
        );
    if (spec.firstCrossing !== undefined) {
      if (!ACTIVATION_CODECS.includes(spec.firstCrossing) || isDeltaCodec(spec.firstCrossing))
        throw new RangeError(
          `codecs: first crossing ${JSON.stringify(spec.firstCrossing)} is not one of ${ACTIVATION_CODECS.filter((c) => !isDeltaCodec(c)).join(', ')}`,
        );
      if (!isDeltaCodec(spec.forward) && !isDeltaCodec(spec.backward))
        throw new RangeError(`codecs: ${codecName(spec)} has a first crossing but no delta codec`);
    }
    if (spec.blockSize !== undefined) blockSize(`codecs: ${codecName(spec)} blockSize`, spec.blockSize);
  }
}

function positive(name: string, value: number): void {
  if (!(Number.isInteger(value) && value >= 1))
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

function blockSize(name: string, value: number): void {
  if (!isValidBlockSize(value))
    throw new RangeError(`${name} must be a multiple of 32 from 32 to 4096, got ${value}`);
}

/** A number flag, checked with the rest of the config by validatePipelineBench. */
function num(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value))
    throw new RangeError(`--${name} must be a number, got ${text}`);
  return value;
}

function int(name: string, text: string | undefined, fallback: number): number {
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`--${name} must be a positive integer, got ${text ?? value}`);
  return value;
}
