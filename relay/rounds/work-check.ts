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
// clipped gradients cannot exceed the clip (|m| ≤ c, 0 ≤ v ≤ c²), and a residual far larger
// than the round's own step would let a made-up residual, not the work, decide the frame.
import { innerLoopReference } from '../../kernels/reference/inner-loop.ts';
import type { LocalState } from '../../protocol/local-state-file.ts';
import { dequantize, levelsFor, type QuantBits } from '../../protocol/quantize.ts';
import { decodeContribution, type FrameExpectation } from '../../protocol/round-update.ts';
import type { RunConfig } from '../../protocol/run-config.ts';

/** Share of the frame's values that must match the relay's redo. */
export const MIN_AGREEMENT = 0.98;
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
  | { readonly ok: true; readonly agreement: number }
  | { readonly ok: false; readonly reason: string; readonly agreement: number | null };

export function checkWork(work: WorkToCheck): WorkVerdict {
  const bounds = startStateProblem(work.start, work.config.inner.gradClip);
  if (bounds) return { ok: false, reason: bounds, agreement: null };
  const sent = decodeContribution(work.frame, work.expected);
  if (!sent.ok)
    return { ok: false, reason: `the frame does not decode: ${sent.error.message}`, agreement: null };
  const redo = innerLoopReference(work.config, work.start, {
    weights: work.weights,
    tokens: work.tokens,
    innerSteps: work.innerSteps,
    learningRate: work.learningRate,
    seed: work.expected.seed,
    noiseStream: work.noiseStream,
  });
  const residualNorm = norm(work.start.residual);
  const stepNorm = norm(redo.delta);
  if (residualNorm > MAX_RESIDUAL_RATIO * stepNorm)
    return {
      ok: false,
      reason: `the starting residual (norm ${residualNorm.toExponential(2)}) dwarfs the round's step (${stepNorm.toExponential(2)})`,
      agreement: null,
    };
  const agreement = agreementOf(redo.payload, sent.value, work.expected.totalFloats);
  return agreement >= MIN_AGREEMENT
    ? { ok: true, agreement }
    : {
        ok: false,
        reason: `${(100 * agreement).toFixed(1)}% of the frame matches the assigned work (needs ${100 * MIN_AGREEMENT}%)`,
        agreement,
      };
}

/**
 * Share of values that match: a sent value matches the redo's when they are within a quarter of
 * a quantization step of the redo's block (a relative 1e-3 for fp32), so only the same code
 * matches, whatever small difference in scale the GPU's arithmetic makes; a value only one side
 * sent does not match.
 */
export function agreementOf(
  redo: {
    indices: Uint32Array;
    words: Uint32Array;
    scales: Float32Array;
    bits: QuantBits;
    blockSize: number;
  },
  sent: { indices: Uint32Array; values: Float32Array },
  totalFloats: number,
): number {
  const sentAt = new Float32Array(totalFloats);
  const sentMask = new Uint8Array(totalFloats);
  sent.indices.forEach((index, j) => {
    sentAt[index] = sent.values[j] as number;
    sentMask[index] = 1;
  });
  const redoValues = dequantize(redo.words, redo.scales, redo.bits, redo.blockSize, redo.indices.length);
  let matches = 0;
  redo.indices.forEach((index, j) => {
    if (!sentMask[index]) return;
    sentMask[index] = 2;
    const a = redoValues[j] as number;
    const b = sentAt[index] as number;
    const scale = redo.scales[Math.floor(j / redo.blockSize)] ?? 0;
    const tolerance =
      redo.bits === 32
        ? 1e-3 * Math.max(Math.abs(a), Math.abs(b)) + 1e-30
        : (0.5 * scale) / levelsFor(redo.bits);
    if (Math.abs(a - b) <= tolerance) matches++;
  });
  let onlySent = 0;
  for (let i = 0; i < totalFloats; i++) if (sentMask[i] === 1) onlySent++;
  const compared = redo.indices.length + onlySent;
  return compared === 0 ? 0 : matches / compared;
}

function startStateProblem(start: LocalState, clip: number): string | null {
  const mMax = Math.max(1, clip) * (1 + 1e-3);
  const vMax = Math.max(1, clip * clip) * (1 + 1e-3);
  for (let i = 0; i < start.m.length; i++) {
    const m = start.m[i] as number;
    const v = start.v[i] as number;
    if (!(Math.abs(m) <= mMax))
      return `AdamW's first moment ${i} is ${m}, beyond what clipped gradients make`;
    if (!(v >= 0 && v <= vMax))
      return `AdamW's second moment ${i} is ${v}, beyond what clipped gradients make`;
    if (!Number.isFinite(start.residual[i] as number)) return `residual ${i} is not finite`;
  }
  if (start.step > 1e9) return `step count ${start.step}`;
  return null;
}

function norm(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i] as number) ** 2;
  return Math.sqrt(sum);
}
