// Whether a contribution is the work it was assigned (BOINC's replication, with the relay as
// the second worker): the relay redoes the member's round on the CPU from θ_r, the assigned
// tokens and the member's own starting state (AdamW moments, step count, error-feedback
// residual; committed by hash in its signed manifest before it could know it would be
// checked), frames the result with the member's rounding stream, and compares it value by
// value with the frame the member sent. An honest GPU frame and the CPU's differ only where a
// value sits on a rounding boundary; a frame that is zeros, noise, another member's, or last
// round's agrees on about half of its values at best.
//
// The starting state is the member's to choose, so it is bounded first: AdamW's moments of
// clipped gradients cannot exceed the clip (‖m‖ ≤ c, Σv ≤ c²), and a residual far larger
// than the round's own step would let a made-up residual, not the work, decide the frame.
import { innerLoopReference } from '../../kernels/reference/inner-loop.ts';
import type { LocalState } from '../../protocol/local-state-file.ts';
import { dequantize, levelsFor, type QuantBits } from '../../protocol/quantize.ts';
import { decodeContribution, type FrameExpectation } from '../../protocol/round-update.ts';
import type { RunConfig } from '../../protocol/run-config.ts';

/** Share of the frame's values that must match the relay's redo. */
export const MIN_AGREEMENT = 0.98;
/** Of the values the work changes, the share the frame must match. */
export const MIN_WORK_AGREEMENT = 0.9;
/** Fewer values than this (or this share of them) changed by the work prove nothing. */
export const MIN_DECISIVE_VALUES = 64;
export const MIN_DECISIVE_SHARE = 0.005;
/** The starting second moment may sum to at most this many times the round's largest squared gradient norm. */
export const MAX_MOMENT_DRIFT = 16;
/** The starting residual may be at most this many times the round's own step (L2). */
export const MAX_RESIDUAL_RATIO = 16;

export interface WorkToCheck {
  readonly config: RunConfig;
  readonly expected: FrameExpectation;
  /** θ_r. */
  readonly weights: Float32Array;
  readonly start: LocalState;
  readonly tokens: ArrayLike<number>;
  readonly innerSteps: number;
  readonly learningRate: number;
  readonly noiseStream: number;
  /** The frame the member uploaded. */
  readonly frame: Uint8Array;
}

export type WorkVerdict =
  | {
      readonly ok: true;
      readonly agreement: number;
      /** How much of the frame the starting state alone predicts (no gradient). */
      readonly predicted: number;
    }
  | {
      readonly ok: false;
      readonly reason: string;
      readonly agreement: number | null;
      /** The frame matched, but the state alone predicts it too: no evidence either way. */
      readonly inconclusive?: boolean;
    };

export function checkWork(work: WorkToCheck): WorkVerdict {
  const bounds = startStateProblem(work.start, work.config.inner);
  if (bounds) return { ok: false, reason: bounds, agreement: null };
  const sent = decodeContribution(work.frame, work.expected);
  if (!sent.ok)
    return { ok: false, reason: `the frame does not decode: ${sent.error.message}`, agreement: null };
  const round = {
    weights: work.weights,
    tokens: work.tokens,
    innerSteps: work.innerSteps,
    learningRate: work.learningRate,
    seed: work.expected.seed,
    noiseStream: work.noiseStream,
  };
  const redo = innerLoopReference(work.config, work.start, round);
  const drift = stateDriftProblem(work.start, redo.maxGradNormSquared);
  if (drift) return { ok: false, reason: drift, agreement: null };
  const { totalFloats } = work.expected;
  const redoAt = denseOf(redo.payload, totalFloats);
  const agreement = agreementOf(redoAt, sent.value);
  if (agreement < MIN_AGREEMENT)
    return {
      ok: false,
      reason: `${(100 * agreement).toFixed(1)}% of the frame matches the assigned work (needs ${100 * MIN_AGREEMENT}%)`,
      agreement,
    };
  // The frame follows from the redo, but a residual far larger than the round's step would
  // decide it alone. No evidence either way, not a cheat: an honest member whose share dropped
  // from 25 steps to 1 (its measured speed fell, or others' rose) carries such a residual.
  const residualNorm = norm(work.start.residual);
  const stepNorm = norm(redo.delta);
  if (residualNorm > MAX_RESIDUAL_RATIO * stepNorm)
    return {
      ok: false,
      inconclusive: true,
      reason: `the starting residual (norm ${residualNorm.toExponential(2)}) dwarfs the round's step (${stepNorm.toExponential(2)})`,
      agreement,
    };
  // The frame must need the work: what the starting state alone, with no gradient at all, makes
  // of the round is the baseline (an outside attack chose moments that steer AdamW on their own).
  const idle = innerLoopReference(work.config, work.start, round, { gradients: false });
  // Where the work changes the frame (the redo and the state-alone prediction code a value
  // differently), the sent frame must follow the work: a member that did none can only guess
  // there, and matches about half of them at best.
  const evidence = workEvidence(redoAt, denseOf(idle.payload, totalFloats), sent.value);
  if (evidence.decisive < Math.max(MIN_DECISIVE_VALUES, MIN_DECISIVE_SHARE * evidence.compared))
    return {
      ok: false,
      inconclusive: true,
      reason: `the starting state alone predicts all but ${evidence.decisive} of ${evidence.compared} values: the frame shows no work`,
      agreement,
    };
  const followed = evidence.followed / evidence.decisive;
  if (followed < MIN_WORK_AGREEMENT)
    return {
      ok: false,
      reason: `where the work changes the frame, it follows the work on ${(100 * followed).toFixed(1)}% of ${evidence.decisive} values (needs ${100 * MIN_WORK_AGREEMENT}%)`,
      agreement,
    };
  return { ok: true, agreement, predicted: 1 - evidence.decisive / evidence.compared };
}

/** A compressed payload as the compressor hands it over (kernels/compress/compressed-tensor.ts). */
type Payload = {
  readonly indices: Uint32Array;
  readonly words: Uint32Array;
  readonly scales: Float32Array;
  readonly bits: QuantBits;
  readonly blockSize: number;
};

/** A frame's decoded values, at their global indices. */
type Sent = { readonly indices: Uint32Array; readonly values: Float32Array };

/**
 * A payload decoded once onto the global indices: each value, the tolerance a value compared with
 * it must be within (a quarter of a quantization step of its block, so only the same code
 * matches whatever small difference in scale the GPU's arithmetic makes; a relative 1e-3 for
 * fp32), and which indices it sent.
 */
interface Dense {
  readonly payload: Payload;
  readonly values: Float32Array;
  readonly tolerance: Float32Array;
  readonly sent: Uint8Array;
}

function denseOf(payload: Payload, totalFloats: number): Dense {
  const values = new Float32Array(totalFloats);
  const tolerance = new Float32Array(totalFloats);
  const sent = new Uint8Array(totalFloats);
  const { words, scales, bits, blockSize, indices } = payload;
  const decoded = dequantize(words, scales, bits, blockSize, indices.length);
  indices.forEach((index, j) => {
    const a = decoded[j] as number;
    values[index] = a;
    sent[index] = 1;
    const scale = scales[Math.floor(j / blockSize)] ?? 0;
    tolerance[index] = bits === 32 ? 1e-3 * Math.abs(a) + 1e-30 : (0.5 * scale) / levelsFor(bits);
  });
  return { payload, values, tolerance, sent };
}

/** Whether `value` matches the redo's at `index`; for fp32 relative to the larger of the two. */
function matches(redo: Dense, index: number, value: number): boolean {
  const a = redo.values[index] as number;
  const tolerance =
    redo.payload.bits === 32
      ? 1e-3 * Math.max(Math.abs(a), Math.abs(value)) + 1e-30
      : (redo.tolerance[index] as number);
  return Math.abs(a - value) <= tolerance;
}

/** Share of values that match the redo's; a value only one side sent does not match. */
function agreementOf(redo: Dense, sent: Sent): number {
  let matched = 0;
  let onlySent = 0;
  sent.indices.forEach((index, j) => {
    if (!redo.sent[index]) onlySent++;
    else if (matches(redo, index, sent.values[j] as number)) matched++;
  });
  const compared = redo.payload.indices.length + onlySent;
  return compared === 0 ? 0 : matched / compared;
}

/**
 * Over the values where the redo and the state-alone prediction code differently (decisive),
 * how many the sent frame matches the redo on (followed), of all compared.
 */
function workEvidence(
  redo: Dense,
  idle: Dense,
  sent: Sent,
): { decisive: number; followed: number; compared: number } {
  let decisive = 0;
  let followed = 0;
  sent.indices.forEach((index, j) => {
    const r = redo.values[index] as number;
    const tolerance = redo.tolerance[index] as number;
    if (Math.abs(r - (idle.values[index] as number)) <= tolerance) return;
    decisive++;
    if (Math.abs(r - (sent.values[j] as number)) <= tolerance) followed++;
  });
  return { decisive, followed, compared: sent.indices.length };
}

/**
 * Bounds every honest starting state meets, whatever its gradients were. AdamW's moments are
 * m = Σ a_k g_k and v = Σ b_k g_k² over the clipped gradients g_k, with a_k = (1−β1)β1^j and
 * b_k = (1−β2)β2^j, so: ‖m‖ ≤ clip and Σv ≤ clip² (the weights sum to at most 1), and, by
 * Cauchy–Schwarz, m_i² ≤ C v_i on every coordinate with C = Σ a_k²/b_k (about 1.36 for the
 * default betas). An outside attack chose v = clip² everywhere, which froze AdamW so its frame
 * followed from the state alone; another chose m large where v is tiny, which does the same.
 */
function startStateProblem(
  start: LocalState,
  inner: { gradClip: number; beta1: number; beta2: number },
): string | null {
  const slack = 1 + 1e-3;
  const { gradClip: clip, beta1, beta2 } = inner;
  const ratio = (beta1 * beta1) / beta2;
  // With β1² ≥ β2 the series diverges and there is no per-coordinate bound to hold.
  const c = ratio < 1 ? ((1 - beta1) ** 2 / (1 - beta2) / (1 - ratio)) * slack : Number.POSITIVE_INFINITY;
  let mSquares = 0;
  let vSum = 0;
  for (let i = 0; i < start.m.length; i++) {
    const m = start.m[i] as number;
    const v = start.v[i] as number;
    if (!Number.isFinite(m) || !(v >= 0) || !Number.isFinite(v))
      return `AdamW's moments at ${i} are ${m}, ${v}`;
    if (!Number.isFinite(start.residual[i] as number)) return `residual ${i} is not finite`;
    if (m * m > c * v + 1e-30) return `AdamW's moments at ${i} (${m}, ${v}) are no average of any gradients`;
    mSquares += m * m;
    vSum += v;
  }
  if (Math.sqrt(mSquares) > clip * slack)
    return `AdamW's first moment has norm ${Math.sqrt(mSquares).toExponential(3)}, more than clipped gradients (${clip}) make`;
  if (vSum > clip * clip * slack)
    return `AdamW's second moment sums to ${vSum.toExponential(3)}, more than clipped gradients (${clip}²) make`;
  if (start.step > 1e9) return `step count ${start.step}`;
  return null;
}

/**
 * The starting moments against the gradients the redo met: honest moments average recent
 * gradients, so their size follows the gradients' (MAX_MOMENT_DRIFT allows for a model that
 * moved on since). Moments far larger than any gradient of the round would let them, not the
 * round's gradients, decide the step.
 */
function stateDriftProblem(start: LocalState, maxGradNormSquared: number): string | null {
  let vSum = 0;
  for (let i = 0; i < start.v.length; i++) vSum += start.v[i] as number;
  if (vSum > MAX_MOMENT_DRIFT * maxGradNormSquared)
    return `AdamW's second moment sums to ${vSum.toExponential(3)}, ${MAX_MOMENT_DRIFT}× more than this round's gradients (${maxGradNormSquared.toExponential(3)}) make`;
  return null;
}

function norm(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i] as number) ** 2;
  return Math.sqrt(sum);
}
