// `npm run train` flags: every default comes from DEFAULT_TRAIN / DEFAULT_MODEL, and bigger
// models are one flag away (--preset, or --d-model / --layers / --heads / --context).
import { parseArgs } from 'node:util';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { validateConfig } from '../../../protocol/gpt-config.ts';
import { DEFAULT_TRAIN, type TrainConfig } from '../../train/config.ts';

/** Named model sizes: `tiny` for smoke tests, `small` the default, larger ones for real GPUs. */
export const PRESETS: Readonly<Record<string, GptConfig>> = {
  tiny: { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 2, nHead: 2 },
  small: DEFAULT_TRAIN.model,
  medium: { vocabSize: 256, contextLength: 128, dModel: 256, nLayer: 6, nHead: 8 },
  gpt2: { vocabSize: 256, contextLength: 1024, dModel: 768, nLayer: 12, nHead: 12 },
};

export const TRAIN_HELP = `Usage: npm run train -- [options]

Trains a GPT-2 style model on the GPU (WebGPU through Dawn; SwiftShader on a machine
with no GPU) on a prepared data set, the Brown Corpus by default (prepared on first use).

  --steps N            optimizer steps (default ${DEFAULT_TRAIN.steps})
  --preset NAME        model size: ${Object.keys(PRESETS).join(', ')} (default small)
  --d-model N          residual width (overrides the preset)
  --layers N           transformer blocks
  --heads N            attention heads
  --context N          context length (learned positions)
  --batch N            sequences per step (default ${DEFAULT_TRAIN.batchSize})
  --seq-len N          tokens per sequence (default: the context length)
  --lr X               peak learning rate (default ${DEFAULT_TRAIN.learningRate})
  --warmup N           warmup steps (default ${DEFAULT_TRAIN.warmupSteps})
  --eval-every N       validate every N steps (default ${DEFAULT_TRAIN.evalEvery})
  --eval-batches N     validation batches per check (default ${DEFAULT_TRAIN.evalBatches})
  --final-eval-batches N  validation batches for the final figure (default 64)
  --seed N             weight init and batch order (default ${DEFAULT_TRAIN.seed})
  --data DIR           prepared data set (default: the Brown Corpus in state/data/brown)
  --out DIR            write a checkpoint there at the end (model.safetensors + config.json,
                       Hugging Face GPT2LMHeadModel names)
  --json               end with one JSON line: {"step","trainLoss","valLoss","unigramEntropy","tokensPerSec"}
  -h, --help           this text`;

export interface TrainCli {
  readonly train: TrainConfig;
  readonly finalEvalBatches: number;
  readonly dataDir: string | null;
  readonly outDir: string | null;
  readonly json: boolean;
}

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`--${name} must be a positive integer, got ${text}`);
  return value;
}

function positiveNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(Number.isFinite(value) && value > 0))
    throw new RangeError(`--${name} must be a positive number, got ${text}`);
  return value;
}

/** Parses argv (without node and script); null when --help was asked for. */
export function parseTrainCli(argv: readonly string[]): TrainCli | null {
  const text = { type: 'string' } as const;
  const { values } = parseArgs({
    args: [...argv],
    options: {
      steps: text,
      preset: text,
      'd-model': text,
      layers: text,
      heads: text,
      context: text,
      batch: text,
      'seq-len': text,
      lr: text,
      warmup: text,
      'eval-every': text,
      'eval-batches': text,
      'final-eval-batches': text,
      seed: text,
      data: text,
      out: text,
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const presetName = values.preset ?? 'small';
  const preset = PRESETS[presetName];
  if (!preset)
    throw new RangeError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, got ${presetName}`);
  const model: GptConfig = {
    vocabSize: preset.vocabSize,
    contextLength: positiveInt('context', values.context, preset.contextLength),
    dModel: positiveInt('d-model', values['d-model'], preset.dModel),
    nLayer: positiveInt('layers', values.layers, preset.nLayer),
    nHead: positiveInt('heads', values.heads, preset.nHead),
  };
  validateConfig(model);
  const seqLen = positiveInt('seq-len', values['seq-len'], model.contextLength);
  if (seqLen > model.contextLength) {
    throw new RangeError(`--seq-len ${seqLen} exceeds the context length ${model.contextLength}`);
  }
  const steps = positiveInt('steps', values.steps, DEFAULT_TRAIN.steps);
  const warmupSteps = Math.min(steps, positiveInt('warmup', values.warmup, DEFAULT_TRAIN.warmupSteps));
  const train: TrainConfig = {
    ...DEFAULT_TRAIN,
    model,
    steps,
    warmupSteps,
    seqLen,
    batchSize: positiveInt('batch', values.batch, DEFAULT_TRAIN.batchSize),
    learningRate: positiveNumber('lr', values.lr, DEFAULT_TRAIN.learningRate),
    evalEvery: positiveInt('eval-every', values['eval-every'], DEFAULT_TRAIN.evalEvery),
    evalBatches: positiveInt('eval-batches', values['eval-batches'], DEFAULT_TRAIN.evalBatches),
    seed: values.seed === undefined ? DEFAULT_TRAIN.seed : positiveInt('seed', values.seed, 1),
  };
  return {
    train,
    finalEvalBatches: positiveInt('final-eval-batches', values['final-eval-batches'], 64),
    dataDir: values.data ?? null,
    outDir: values.out ?? null,
    json: values.json ?? false,
  };
}
