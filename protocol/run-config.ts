// The run config as it travels: the relay serves it (`/api/runs/:id`), every volunteer
// validates it against this schema and checks its hash against the one the relay's welcome
// named, so every peer trains exactly what the run's id stands for. The defaults and the
// operator's file live on the relay (relay/run/run-config.ts).

import * as v from 'valibot';
import { sha256Hex } from './sha256.ts';

const Positive = v.pipe(v.number(), v.finite(), v.gtValue(0));
const PositiveInt = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
const Fraction = v.pipe(v.number(), v.finite(), v.gtValue(0), v.maxValue(1));

const ModelSchema = v.object({
  vocabSize: PositiveInt,
  contextLength: PositiveInt,
  dModel: PositiveInt,
  nLayer: PositiveInt,
  nHead: PositiveInt,
});

const InnerSchema = v.object({
  batchSize: PositiveInt,
  seqLen: PositiveInt,
  learningRate: Positive,
  warmupRounds: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  minLrRatio: Fraction,
  beta1: v.pipe(v.number(), v.minValue(0), v.ltValue(1)),
  beta2: v.pipe(v.number(), v.minValue(0), v.ltValue(1)),
  eps: Positive,
  weightDecay: v.pipe(v.number(), v.minValue(0)),
  gradClip: v.pipe(v.number(), v.minValue(0)),
});

const RoundSchema = v.object({
  innerSteps: PositiveInt,
  outerLr: Positive,
  outerMomentum: v.pipe(v.number(), v.minValue(0), v.ltValue(1)),
  compression: v.object({
    randomK: Fraction,
    topK: Fraction,
    bits: v.picklist([1, 2, 4, 8, 32]),
    blockSize: v.pipe(v.number(), v.safeInteger(), v.minValue(32), v.maxValue(4096), v.multipleOf(32)),
  }),
});

const ScheduleSchema = v.object({
  minPeers: PositiveInt,
  maxGroupSize: v.pipe(PositiveInt, v.maxValue(64)),
  gatherMs: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  deadlineSlack: v.pipe(v.number(), v.finite(), v.minValue(1)),
  minRoundMs: PositiveInt,
  maxRoundMs: PositiveInt,
  hashTimeoutMs: PositiveInt,
  maxInnerStepsFactor: v.pipe(v.number(), v.finite(), v.minValue(1)),
  slowestSpeedRatio: v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(1)),
  checkpointEvery: PositiveInt,
});

/** Activation codecs a pipeline run may send between volunteers (the delta codecs are not yet). */
export const PIPELINE_CODECS = ['fp32', 'int8', 'int4'] as const;

const PipelineSchema = v.object({
  /** Stages the model is cut into: contiguous layer ranges, embedding first, head last. */
  stages: v.pipe(PositiveInt, v.maxValue(8)),
  /** Microbatches per optimizer step, each routed through one replica of every stage. */
  microbatches: v.pipe(PositiveInt, v.maxValue(32)),
  /** Sequences per microbatch. */
  microbatchSize: PositiveInt,
  /** What activations (forward) and their gradients (backward) cross the wire as. */
  forward: v.picklist(PIPELINE_CODECS),
  backward: v.picklist(PIPELINE_CODECS),
  /** Values per quantization scale. */
  blockSize: v.pipe(v.number(), v.safeInteger(), v.minValue(32), v.maxValue(4096), v.multipleOf(32)),
  /** A step not reported by every seated volunteer within this is aborted and re-run. */
  stepMs: PositiveInt,
});
export type PipelineConfig = v.InferOutput<typeof PipelineSchema>;

export const RunConfigSchema = v.object({
  name: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,39}$/)),
  dataset: v.pipe(v.string(), v.minLength(1), v.maxLength(400)),
  seed: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(0xffffffff)),
  totalRounds: PositiveInt,
  model: ModelSchema,
  inner: InnerSchema,
  round: RoundSchema,
  schedule: ScheduleSchema,
  /** Present: the run is pipeline parallel (kernels/pipeline/, relay/pipeline/) instead of DiLoCo rounds. */
  pipeline: v.optional(PipelineSchema),
});
export type RunConfig = v.InferOutput<typeof RunConfigSchema>;

/** Validates a run config received from the relay; never throws. */
export function parseRunConfig(input: unknown): RunConfig | null {
  const parsed = v.safeParse(RunConfigSchema, input);
  return parsed.success ? parsed.output : null;
}

/** JSON with keys sorted at every level: the same config always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Hex SHA-256 of the canonical config, and the run id built from it. */
export async function runIdentity(config: RunConfig): Promise<{ configHash: string; runId: string }> {
  const configHash = await sha256Hex(new TextEncoder().encode(canonicalJson(config)));
  return { configHash, runId: `${config.name}-${configHash.slice(0, 8)}` };
}

/** The inner learning rate of round `round`: warmup over rounds, then cosine to the floor. */
export function innerLearningRate(config: RunConfig, round: number): number {
  const { learningRate, warmupRounds, minLrRatio } = config.inner;
  const minLr = learningRate * minLrRatio;
  if (round < warmupRounds) return (learningRate * (round + 1)) / (warmupRounds + 1);
  const decay = Math.max(1, config.totalRounds - warmupRounds);
  const progress = Math.min(1, (round - warmupRounds) / decay);
  return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (learningRate - minLr);
}
