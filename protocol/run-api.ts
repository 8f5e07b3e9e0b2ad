// The relay's `/api/runs` routes as both sides see them (relay/http/run-routes.ts builds these
// bodies, typed by the schemas here; the leaderboard and the volunteer parse them with the same
// schemas), so a field that changes on one side fails to compile on the other.
//
//   GET  /api/runs                       RunsBody
//   GET  /api/runs/:id                   RunDetailBody: the summary, the run config, the loss curve
//   GET  /api/runs/:id/checkpoint        safetensors bytes; CHECKPOINT_*_HEADER name what they hold
//   PUT  /api/runs/:id/rounds/:r/frames/:peer   a member's frame (FRAME_CLAIM_HEADER: its signed
//                                        claim); FrameUploadBody (201, or 200 when already held)
//   GET  /api/runs/:id/rounds/:r/frames/:peer   a counted frame of the last committed round
//   GET  /api/runs/:id/dataset           the data set's manifest (dataset-manifest.ts)
//   GET  /api/runs/:id/shards/:n         token-shard bytes (token-shard.ts), with Range requests
//   GET  /healthz                        HealthBody
import * as v from 'valibot';
import { DatasetNameSchema, MAX_MIXTURE_DATASETS } from './data-mixture.ts';
import { RunId, Sha256Hex } from './ledger-entry.ts';
import { RunConfigSchema } from './run-config.ts';
import { RunOriginRecordSchema } from './run-origin-record.ts';

const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
/** A round number, or -1 for "none yet" (θ_0, before any round commits). */
const RoundOrNone = v.pipe(v.number(), v.safeInteger(), v.minValue(-1));

/** The committed round of the newest stored checkpoint. */
export const CHECKPOINT_ROUND_HEADER = 'x-potluck-round';
/** The model hash (model-hash.ts) of the checkpoint's weights and momentum. */
export const CHECKPOINT_HASH_HEADER = 'x-potluck-model-hash';

export const RoundInProgress = v.object({
  round: Count,
  /** The coordinator's phase, in words: shown, never acted on. */
  phase: v.string(),
  members: Count,
  /** Epoch milliseconds. */
  deadline: v.optional(Count),
});

export const RunSummaryBody = v.object({
  id: RunId,
  name: v.string(),
  configHash: Sha256Hex,
  paramCount: Count,
  committedRound: RoundOrNone,
  modelHash: Sha256Hex,
  /** Volunteers connected to the relay now. */
  peers: Count,
  /** The round being trained, or null between rounds. */
  roundInProgress: v.nullable(RoundInProgress),
  epoch: Count,
  /** The newest stored checkpoint; round -1 is the initial weights. */
  checkpoint: v.nullable(v.object({ round: RoundOrNone, modelHash: Sha256Hex })),
  /** Model-hash reports that disagreed with the committed hash since the relay started. */
  hashDisagreements: Count,
  /** Rounds whose new state the relay's guard refused since the relay started. */
  rolledBack: Count,
  /** Zero bits of the identity stamp a hello needs (run config identity.stampBits): minted before joining. */
  stampBits: Count,
  /** Where round 0 started (run-origin-record.ts, signed by the relay); null: θ_0 of the seed. */
  origin: v.nullable(RunOriginRecordSchema),
});
export type RunSummary = v.InferOutput<typeof RunSummaryBody>;

export const RunsBody = v.object({ runs: v.array(RunSummaryBody) });
export type RunsBody = v.InferOutput<typeof RunsBody>;

/** One committed round: a point of the run's loss curve. */
export const LossPoint = v.object({
  round: Count,
  /**
   * The committed state's loss on the relay's held-out batch, measured by the relay; in a run
   * whose relay does not score states, the mean training loss its peers reported (or null).
   */
  trainLoss: v.nullable(v.pipe(v.number(), v.finite())),
  tokens: Count,
  /** ISO time. */
  committedAt: v.string(),
});
export type LossPoint = v.InferOutput<typeof LossPoint>;

/** One dataset of the run's mixture (data-mixture.ts; a single dataset is a mixture of one). */
export const DatasetStatus = v.object({
  /** As the run config names it. */
  dataset: DatasetNameSchema,
  /** Its share of the tokens handed out. */
  share: v.pipe(v.number(), v.finite(), v.gtValue(0), v.maxValue(1)),
  /** Its own epoch: each dataset of a mixture cycles through its tokens at its own pace. */
  epoch: Count,
  /** Tokens of it handed out for training and not given back, every epoch together. */
  tokens: Count,
  /**
   * The newest state's loss on this dataset's held-out sequences, measured by the relay; null
   * when the relay does not score states or the split is too short for one sequence.
   */
  valLoss: v.nullable(v.pipe(v.number(), v.finite())),
});
export type DatasetStatus = v.InferOutput<typeof DatasetStatus>;

/** A committed round's loss on each dataset's held-out sequences, in the mixture's order. */
export const DatasetLossPoint = v.object({
  round: Count,
  valLoss: v.pipe(v.array(v.nullable(v.pipe(v.number(), v.finite()))), v.maxLength(MAX_MIXTURE_DATASETS)),
});
export type DatasetLossPoint = v.InferOutput<typeof DatasetLossPoint>;

export const RunDetailBody = v.object({
  ...RunSummaryBody.entries,
  config: RunConfigSchema,
  loss: v.array(LossPoint),
  /** Each dataset the run trains on, in the mixture's order. */
  datasets: v.pipe(v.array(DatasetStatus), v.minLength(1), v.maxLength(MAX_MIXTURE_DATASETS)),
  /** Each committed round's loss per dataset, as the relay scored it (rounds it did not score are left out). */
  datasetLoss: v.array(DatasetLossPoint),
});
export type RunDetailBody = v.InferOutput<typeof RunDetailBody>;

/** What the volunteer reads of a run: its config checked apart (it must hash to the welcome's). */
export const RunConfigPart = v.object({ config: v.unknown() });
/** What a page reads of a run to draw its loss curve. */
export const LossCurvePart = v.pick(RunDetailBody, ['loss']);
/** What the leaderboard reads of a run to draw the loss on each dataset of its mixture. */
export const DatasetLossPart = v.pick(RunDetailBody, ['datasets', 'datasetLoss']);

/** The author's signature of frameClaimMessage(runId, round, seed, sha256(body)), base64url. */
export const FRAME_CLAIM_HEADER = 'x-potluck-frame-claim';

export const FrameUploadBody = v.object({ stored: v.boolean(), frameHash: Sha256Hex });
export type FrameUploadBody = v.InferOutput<typeof FrameUploadBody>;

export const HealthBody = v.object({
  ok: v.literal(true),
  runId: RunId,
  committedRound: RoundOrNone,
  /** Volunteers connected to this relay (with several relays, to this one only). */
  peers: Count,
  /** Whether this relay decides the run's rounds: always alone; one of several relays at a time. */
  leading: v.optional(v.boolean()),
  /** Several relays: this relay's id in the cluster (its logs name it too). */
  relayId: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/))),
});
export type HealthBody = v.InferOutput<typeof HealthBody>;
