// The typed coordination protocol between a volunteer and the relay, spoken as JSON text
// frames on the relay's `/swarm` WebSocket (docs/ARCHITECTURE.md, "One training round").
// Every message is a member of a discriminated union on `type`; both directions are
// described by valibot schemas, so the relay validates what peers send and peers validate
// what the relay sends with the same declarations. Schemas are values without side effects.
//
// A session, in order:
//   relay → challenge      a nonce to sign, the relay's key, the run and its ICE servers
//   peer  → hello          its Ed25519 public key, a signature over the challenge, and the
//                          identity's proof-of-work stamp for the run (identity-stamp.ts)
//   relay → welcome        the peer id (its key) the relay will use for it, and the public
//                          addresses of the run's live relays, to fail over to (relay-url.ts)
//   peer  → capabilities   adapter, memory, measured speed and bandwidth
//   peer  → ready          the round and model hash it holds
//   relay → assignment     a round: its group (every ready peer is in one), data shard,
//                          seed, deadline, model hash
//   (HTTP)                 the peer uploads its frame with its signed frame claim
//   peer  → manifest       (signed) its frame's hash, the hash of its own starting state
//                          (moments, residual), and which frames of others it holds
//   relay → decision       the contributions that count (the group's), and the hashes of the
//                          round's aggregate frame and its pieces, which the group's members
//                          fetch once each and pass on to each other over the mesh
//   relay → commit         the state the aggregate gives, and the signed ledger head
//   peer  → model-hash     (signed) the hash the peer computed: a consistency report only
//   relay → receipt        one signed receipt per credited contribution
//   relay → check          after a commit, to some members: upload your round's starting state
//   (HTTP)                 the member uploads it; the relay redoes the round and compares frames
// `wait`, `resync`, `round-aborted` and `error` are the relay's other answers.
//
// A pipeline-parallel run (run config `pipeline`) replaces the round with one optimizer step:
//   relay → stage-assignment   this peer's stage, every stage's replicas, each microbatch's route
//   peer  → stage-norm         the squared norm of the gradient its stage is about to step on
//   relay → stage-norms        every replica sent one and each stage's agree: every stage's, in
//                              stage order, so all clip by the whole model's norm alike
//   peer  → stage-report       (signed) its stage's weights hash after the step, its loss sum
//   relay → stage-commit       every replica of every stage agreed: the step counts, credits given
//   relay → stage-abort        a replica left or the deadline passed: undo the step, await the next

import * as v from 'valibot';
import { MAX_AGGREGATE_PIECES } from './aggregate-piece.ts';
import { DisplayName } from './display-name.ts';
import { MAX_STAMP_BITS } from './identity-stamp.ts';
import { PublicKeyText, Sha256Hex } from './ledger-entry.ts';
import { SignatureText } from './ledger-signatures.ts';
import { RelayUrls } from './relay-url.ts';
import { issueText } from './schema-issue.ts';

/** Bytes of one JSON frame on `/swarm`; the largest legitimate one is a manifest of a full group. */
export const MAX_SWARM_FRAME_BYTES = 64 * 1024;
/** Peers in one round's group; bounds every list a message may carry. */
export const MAX_GROUP_SIZE = 64;
/** Volunteer names as shown on the leaderboard. */
export const MAX_NAME_LENGTH = 40;
/** Holders a resync names at most, and the largest state piece (state-tree.ts). */
export const MAX_STATE_HOLDERS = 8;
export const MAX_STATE_PIECE_BYTES = 4 * 2 ** 20;

/** A raw 32-byte Ed25519 public key, canonical base64url: also the peer's id. */
export const PeerKey = PublicKeyText;
/** A 64-byte Ed25519 signature, canonical base64url. */
export const Signature = SignatureText;
export { Sha256Hex };

const Round = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const Rate = v.pipe(v.number(), v.finite(), v.minValue(0));
const ShortText = (max: number) => v.pipe(v.string(), v.maxLength(max));

// ---- peer → relay ----------------------------------------------------------------------

export const Hello = v.object({
  type: v.literal('hello'),
  publicKey: PeerKey,
  /** Ed25519 over helloMessage(nonce, runId) (protocol/swarm-signing.ts). */
  signature: Signature,
  /** Unique in the run after normalization (display-name.ts, normalizeName); the relay refuses a taken one. */
  name: v.optional(DisplayName(MAX_NAME_LENGTH)),
  /**
   * The identity's hashcash counter for this run (identity-stamp.ts). Optional in the schema so
   * that a missing or malformed one is refused with its own code (ERR_SWARM_STAMP_*).
   */
  stamp: v.optional(ShortText(64)),
  /** 'browser' or 'node': shown on the leaderboard, never trusted for anything. */
  platform: v.picklist(['browser', 'node']),
});

export const Capabilities = v.object({
  type: v.literal('capabilities'),
  adapter: v.object({
    vendor: ShortText(80),
    architecture: ShortText(80),
    description: ShortText(160),
    isSoftware: v.boolean(),
  }),
  /** GPUDevice limits.maxStorageBufferBindingSize, bytes. */
  maxBufferBytes: Count,
  /** Bytes of GPU memory the peer is willing to use. */
  memoryBytes: Count,
  /** Training tokens per second measured on this run's model. */
  tokensPerSec: Rate,
  uplinkBytesPerSec: Rate,
  downlinkBytesPerSec: Rate,
});

export const Ready = v.object({
  type: v.literal('ready'),
  /** The last committed round whose weights the peer holds; -1 for none (needs θ_0 or a checkpoint). */
  round: v.pipe(v.number(), v.safeInteger(), v.minValue(-1)),
  modelHash: v.nullable(Sha256Hex),
});

/**
 * A frame of another member this peer holds, with the author's signed claim that came with it
 * (swarm-signing.ts): if the relay holds a different frame from that author, the two claims
 * prove equivocation.
 */
export const HeldFrame = v.object({ peer: PeerKey, frameHash: Sha256Hex, claim: Signature });

export const Manifest = v.object({
  type: v.literal('manifest'),
  round: Round,
  /** SHA-256 of this peer's own encoded frame. */
  frameHash: Sha256Hex,
  frameBytes: Count,
  /**
   * SHA-256 of this peer's own state at the round's start (protocol/local-state-file.ts): sent
   * before the relay picks whom to check, so a checked member cannot make one up afterwards.
   */
  stateHash: Sha256Hex,
  /** Frames of other group members this peer received and decoded. */
  holds: v.pipe(v.array(HeldFrame), v.maxLength(MAX_GROUP_SIZE)),
  trainLoss: v.nullable(v.pipe(v.number(), v.finite())),
  signature: Signature,
});

export const ModelHashReport = v.object({
  type: v.literal('model-hash'),
  round: Round,
  hash: Sha256Hex,
  signature: Signature,
});

export const Leave = v.object({ type: v.literal('leave'), reason: ShortText(200) });

/** Stages of a pipeline run and microbatches per step: they bound the assignment's lists. */
export const MAX_PIPELINE_STAGES = 8;
export const MAX_PIPELINE_MICROBATCHES = 32;
const Stage = v.pipe(Count, v.maxValue(MAX_PIPELINE_STAGES - 1));
/** A pipeline step's opening (an aborted step reopens with a new one); frames and norms carry it. */
const Attempt = v.pipe(Count, v.maxValue(0xffffffff));
/**
 * A stage's squared gradient norm: JSON has no NaN, and 1e999 parses to Infinity, refused here.
 * Past float32's largest value the gradient's norm passes 1.8e19, which no run that still learns
 * has; the bound keeps every stage's sum added up in float64 finite (protocol/stage-grad-norm.ts).
 */
export const MAX_SUM_OF_SQUARES = 3.4028234663852886e38;
const SumOfSquares = v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(MAX_SUM_OF_SQUARES));

/**
 * A pipeline peer's stage is ready to step: the squared L2 norm of its gradient, its replicas'
 * summed (and, on the first stage, the head's part of the tied embedding's added), for the
 * whole model's clip (protocol/stage-grad-norm.ts). Replicas of a stage send the same number.
 */
export const StageNorm = v.object({
  type: v.literal('stage-norm'),
  step: Round,
  attempt: Attempt,
  stage: Stage,
  sumOfSquares: SumOfSquares,
});

/** A pipeline peer's step is done: its stage's weights after the step, and (last stage) its losses. */
export const StageReport = v.object({
  type: v.literal('stage-report'),
  step: Round,
  stage: Stage,
  /** SHA-256 of the stage's weights after the step: every replica of the stage must agree. */
  paramsHash: Sha256Hex,
  /** Microbatches this peer forwarded and backwarded (a claim; credits come from the routes). */
  microbatches: v.pipe(Count, v.maxValue(MAX_PIPELINE_MICROBATCHES)),
  /** Last stage: the sum of its microbatches' mean losses; null elsewhere. The relay bounds it. */
  lossSum: v.nullable(v.pipe(v.number(), v.finite(), v.minValue(0))),
  signature: Signature,
});

export const PeerMessage = v.variant('type', [
  Hello,
  Capabilities,
  Ready,
  Manifest,
  ModelHashReport,
  Leave,
  StageNorm,
  StageReport,
]);
export type PeerMessage = v.InferOutput<typeof PeerMessage>;

// ---- relay → peer ----------------------------------------------------------------------

export const IceServer = v.object({
  urls: v.union([v.string(), v.array(v.string())]),
  username: v.optional(v.string()),
  credential: v.optional(v.string()),
});
export type IceServer = v.InferOutput<typeof IceServer>;

export const Challenge = v.object({
  type: v.literal('challenge'),
  nonce: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{22,86}$/)),
  runId: ShortText(80),
  relayKey: PeerKey,
  iceServers: v.array(IceServer),
  /** Zero bits the hello's identity stamp must reach (the run config's identity.stampBits). */
  stampBits: v.pipe(Count, v.maxValue(MAX_STAMP_BITS)),
});

export const Welcome = v.object({
  type: v.literal('welcome'),
  peerId: PeerKey,
  runId: ShortText(80),
  /** Hash of the run config, so a peer can tell it trains what the relay runs. */
  configHash: Sha256Hex,
  /**
   * The public base URLs of the run's live relays, the sending relay's first: where the peer
   * goes when this relay dies. Optional, so a relay of one machine (or an older one) need not say.
   */
  relays: v.optional(RelayUrls),
});

export const GroupMember = v.object({
  peer: PeerKey,
  name: DisplayName(MAX_NAME_LENGTH),
  /** Inner steps this member was given (its share follows its measured speed). */
  innerSteps: Count,
});

export const Assignment = v.object({
  type: v.literal('assignment'),
  round: Round,
  configHash: Sha256Hex,
  /** h_r: the weights every member must start from. */
  modelHash: Sha256Hex,
  /** Shared seed s_r: random-k candidates are regenerated from it. */
  seed: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(0xffffffff)),
  group: v.pipe(v.array(GroupMember), v.minLength(1), v.maxLength(MAX_GROUP_SIZE)),
  /** This peer's token range [start, end) of the training split, never trained twice in an epoch. */
  shard: v.object({ start: Count, end: Count }),
  innerSteps: Count,
  /** Inner AdamW learning rate for this round (the run's schedule, computed by the relay). */
  learningRate: Rate,
  /** Epoch milliseconds: manifests after it do not count. */
  deadline: Count,
});

export const Wait = v.object({
  type: v.literal('wait'),
  reason: ShortText(200),
  /** Epoch milliseconds of the next chance to join, when known. */
  retryAt: v.nullable(Count),
});

export const CountedEntry = v.object({ peer: PeerKey, tokens: Count, frameHash: Sha256Hex });

/** The round's aggregate frame (aggregate-frame.ts), as the pieces the groups pass on. */
export const AggregateSummary = v.object({
  /** SHA-256 of the whole aggregate frame. */
  hash: Sha256Hex,
  bytes: v.pipe(Count, v.minValue(1)),
  /** SHA-256 of each piece (aggregate-piece.ts), in order. */
  pieces: v.pipe(v.array(Sha256Hex), v.minLength(1), v.maxLength(MAX_AGGREGATE_PIECES)),
});

export const Decision = v.object({
  type: v.literal('decision'),
  round: Round,
  /** The counted members of the recipient's group, sorted by peer id. */
  counted: v.pipe(v.array(CountedEntry), v.maxLength(MAX_GROUP_SIZE)),
  /** Contributions counted in the whole round, every group's. */
  countedTotal: Count,
  aggregate: AggregateSummary,
  /** Epoch milliseconds: model hashes after it are not looked at. */
  deadline: Count,
});

export const SignedHead = v.object({
  height: Count,
  hash: Sha256Hex,
  signature: Signature,
});

export const Commit = v.object({
  type: v.literal('commit'),
  round: Round,
  modelHash: Sha256Hex,
  head: v.nullable(SignedHead),
});

export const Resync = v.object({
  type: v.literal('resync'),
  /** The last committed round; -1 before the first (θ_0). */
  round: v.pipe(v.number(), v.safeInteger(), v.minValue(-1)),
  /** The committed hash to fetch (from a peer, else the relay's checkpoint). */
  modelHash: Sha256Hex,
  /** The state file's hash tree (state-tree.ts) and members that hold it, to fetch it from. */
  state: v.optional(
    v.object({
      root: Sha256Hex,
      bytes: Count,
      pieceBytes: v.pipe(Count, v.minValue(1), v.maxValue(MAX_STATE_PIECE_BYTES)),
      holders: v.pipe(v.array(PeerKey), v.maxLength(MAX_STATE_HOLDERS)),
    }),
  ),
});

export const RoundAborted = v.object({
  type: v.literal('round-aborted'),
  round: Round,
  reason: ShortText(200),
});

export const ReceiptMessage = v.object({
  type: v.literal('receipt'),
  /** A protocol/ledger-entry.ts Receipt, checked by the peer against the relay's key. */
  receipt: v.unknown(),
});

/** Upload the starting state of `round` (PUT .../rounds/:round/local-state/:peer) before `deadline`. */
export const Check = v.object({
  type: v.literal('check'),
  round: Round,
  deadline: Count,
});

export const ErrorMessage = v.object({
  type: v.literal('error'),
  code: ShortText(64),
  message: ShortText(500),
});

/** One optimizer step of a pipeline run, as one peer is told it. */
export const StageAssignment = v.object({
  type: v.literal('stage-assignment'),
  step: Round,
  /** Unique per opening of a step (an aborted step reopens with a new one): every frame carries it. */
  attempt: Attempt,
  stage: Stage,
  /** The layers [start, end) of this peer's stage (embedding with the first, head with the last). */
  layers: v.object({ start: Count, end: Count }),
  /** Every stage's replicas this step, sorted by key: the order replicas sum gradients in. */
  stages: v.pipe(
    v.array(v.pipe(v.array(PeerKey), v.minLength(1), v.maxLength(MAX_GROUP_SIZE))),
    v.minLength(1),
    v.maxLength(MAX_PIPELINE_STAGES),
  ),
  /** routes[m][s]: the index in stages[s] of the replica that runs microbatch m on stage s. */
  routes: v.pipe(
    v.array(v.pipe(v.array(v.pipe(Count, v.maxValue(MAX_GROUP_SIZE - 1))), v.maxLength(MAX_PIPELINE_STAGES))),
    v.minLength(1),
    v.maxLength(MAX_PIPELINE_MICROBATCHES),
  ),
  /** The step's tokens [start, end): microbatch m's sequence i starts at (m·B + i)·T. */
  shard: v.object({ start: Count, end: Count }),
  /** A new replica: the replica of its stage that sends it the stage's state before the step. */
  stateFrom: v.nullable(PeerKey),
  /** New replicas of this peer's stage to send its state to before the step. */
  stateTo: v.pipe(v.array(PeerKey), v.maxLength(MAX_GROUP_SIZE)),
  learningRate: Rate,
  /** Epoch milliseconds: a step not reported by then is aborted. */
  deadline: Count,
});

/** Every stage's sum of squares for the step's attempt, in stage order: the whole model's clip. */
export const StageNorms = v.object({
  type: v.literal('stage-norms'),
  step: Round,
  attempt: Attempt,
  sumsOfSquares: v.pipe(v.array(SumOfSquares), v.minLength(1), v.maxLength(MAX_PIPELINE_STAGES)),
});

export const StageCommit = v.object({
  type: v.literal('stage-commit'),
  step: Round,
  /** SHA-256 over the stages' weight hashes, in stage order: the ledger's model hash. */
  modelHash: Sha256Hex,
  head: v.nullable(SignedHead),
});

export const StageAbort = v.object({
  type: v.literal('stage-abort'),
  step: Round,
  reason: ShortText(200),
});

/**
 * The run's live relays changed (one started, one stopped): the welcome's list, new. Sent to
 * every volunteer of the relay, so one that joined before a relay started still knows of it.
 */
export const RelaysUpdate = v.object({
  type: v.literal('relays'),
  relays: RelayUrls,
});

export const RelayMessage = v.variant('type', [
  Challenge,
  Welcome,
  Assignment,
  Wait,
  Decision,
  Commit,
  Resync,
  RoundAborted,
  ReceiptMessage,
  Check,
  ErrorMessage,
  StageAssignment,
  StageNorms,
  StageCommit,
  StageAbort,
  RelaysUpdate,
]);
export type RelayMessage = v.InferOutput<typeof RelayMessage>;

export type SwarmParseError = {
  readonly code: 'ERR_SWARM_TOO_LARGE' | 'ERR_SWARM_JSON' | 'ERR_SWARM_SCHEMA';
  readonly message: string;
};
export type SwarmParse<T> = { ok: true; value: T } | { ok: false; error: SwarmParseError };

/** One JSON text frame to a typed message; never throws. */
export function parseSwarmFrame<T>(schema: v.GenericSchema<unknown, T>, text: string): SwarmParse<T> {
  // Length in UTF-16 units bounds the UTF-8 bytes from below; the transport caps bytes.
  if (text.length > MAX_SWARM_FRAME_BYTES)
    return fail('ERR_SWARM_TOO_LARGE', `frame of ${text.length} characters exceeds ${MAX_SWARM_FRAME_BYTES}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail('ERR_SWARM_JSON', error instanceof Error ? error.message : 'not JSON');
  }
  const parsed = v.safeParse(schema, json);
  if (!parsed.success) {
    return fail('ERR_SWARM_SCHEMA', issueText(parsed.issues));
  }
  return { ok: true, value: parsed.output };
}

export const parsePeerMessage = (text: string) => parseSwarmFrame(PeerMessage, text);
export const parseRelayMessage = (text: string) => parseSwarmFrame(RelayMessage, text);

function fail(code: SwarmParseError['code'], message: string): { ok: false; error: SwarmParseError } {
  return { ok: false, error: { code, message } };
}
