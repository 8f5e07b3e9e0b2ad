// From θ_r and a round's counted frames to θ_{r+1} (docs/ARCHITECTURE.md, "One training round",
// steps 10-11): decode every counted frame in the run's exact format, aggregate them robustly,
// take the outer step, zero the layout's padding. The peers run this to land on the new state,
// and the relay runs the same function on the frames it holds to decide what it commits, so
// what is committed never rests on who reported which hash.
import type { Contribution } from './aggregate.ts';
import { decodeAggregate, encodeAggregate } from './aggregate-frame.ts';
import type { CompressionSettings } from './compression-settings.ts';
import type { SparseValues } from './expand-frame.ts';
import type { DecodeResult, FrameError } from './frame-errors.ts';
import { nesterovStep } from './outer-optimizer.ts';
import { type ParamLayout, zeroPadding } from './param-layout.ts';
import type { QuantBits } from './quantize.ts';
import { type AggregationReport, type AggregationSettings, robustAggregate } from './robust-aggregate.ts';
import { decodeRoundValues } from './round-frame-values.ts';

/** What a round's frames must match: anything else would corrupt the sum silently. */
export interface FrameExpectation {
  readonly round: number;
  readonly seed: number;
  /** Floats of the flat parameter buffer, padding included. */
  readonly totalFloats: number;
  readonly compression: CompressionSettings;
}

/** A contribution the relay counted: who sent it, the tokens the relay assigned them, the frame. */
export interface CountedFrame {
  readonly peer: string;
  readonly tokens: number;
  readonly frame: Uint8Array;
}

export interface OuterSettings {
  readonly outerLr: number;
  readonly outerMomentum: number;
  readonly aggregation: AggregationSettings;
  /** Bits per value of the aggregate frame the relay sends back (aggregate-frame.ts); 32: exact. */
  readonly aggregateBits?: QuantBits;
}

export type RoundUpdate =
  | {
      readonly ok: true;
      readonly weights: Float32Array;
      readonly momentum: Float32Array;
      /** Counted frames that could not be used (every peer refuses the same ones). */
      readonly refused: readonly { readonly peer: string; readonly error: FrameError }[];
      readonly report: AggregationReport;
      /** The aggregate frame every peer applies to θ_r to land on these weights. */
      readonly aggregate: Uint8Array;
      /** What the aggregate frame did not carry: the relay adds it to the next round's. */
      readonly residual: Float32Array;
    }
  | { readonly ok: false; readonly reason: string };

export type AppliedAggregate =
  | { readonly ok: true; readonly weights: Float32Array; readonly momentum: Float32Array }
  | { readonly ok: false; readonly reason: string };

/** A member's frame of the round as sparse values, or the reason it is refused; never throws. */
export function decodeContribution(
  bytes: Uint8Array,
  expected: FrameExpectation,
): DecodeResult<SparseValues> {
  return decodeRoundValues(bytes, 'pseudo-gradient', expected, expected.compression);
}

/**
 * θ_{r+1} and its outer momentum, computed beside θ_r (the inputs are not changed), with the
 * aggregate frame that carries the step to the peers. `residual` is the relay's error feedback
 * from the round before (null: none). Not ok when the result is not finite: the round aborts,
 * the run keeps θ_r.
 */
export function roundUpdate(
  weights: Float32Array,
  momentum: Float32Array,
  counted: readonly CountedFrame[],
  expected: FrameExpectation,
  layout: ParamLayout,
  outer: OuterSettings,
  residual: Float32Array | null = null,
): RoundUpdate {
  const aggregated = roundAggregate(counted, expected, layout, outer, residual);
  const applied = applyAggregate(weights, momentum, aggregated.aggregate, expected, layout, outer);
  if (!applied.ok) return applied;
  return { ...applied, ...aggregated };
}

/**
 * The round's aggregate frame from its counted frames: each decoded in the run's exact format
 * (the others refused), combined robustly, compressed with the carried `residual`.
 */
export function roundAggregate(
  counted: readonly CountedFrame[],
  expected: FrameExpectation,
  layout: ParamLayout,
  outer: OuterSettings,
  residual: Float32Array | null = null,
): {
  aggregate: Uint8Array;
  residual: Float32Array;
  refused: { peer: string; error: FrameError }[];
  report: AggregationReport;
} {
  const contributions: Contribution[] = [];
  const refused: { peer: string; error: FrameError }[] = [];
  for (const { peer, tokens, frame } of counted) {
    const decoded = decodeContribution(frame, expected);
    if (decoded.ok) contributions.push({ peer, tokens, ...decoded.value });
    else refused.push({ peer, error: decoded.error });
  }
  const { update, report } = robustAggregate(expected.totalFloats, contributions, outer.aggregation);
  zeroPadding(update, layout);
  const encoded = encodeAggregate(update, residual, aggregateSpec(expected, outer));
  return { aggregate: encoded.bytes, residual: encoded.residual, refused, report };
}

/**
 * θ_{r+1} from θ_r and the round's aggregate frame: what every peer runs on the bytes the relay
 * committed, and what the relay itself ran to commit them. Never throws on the bytes.
 */
export function applyAggregate(
  weights: Float32Array,
  momentum: Float32Array,
  aggregate: Uint8Array,
  expected: FrameExpectation,
  layout: ParamLayout,
  outer: OuterSettings,
): AppliedAggregate {
  const decoded = decodeAggregate(aggregate, aggregateSpec(expected, outer));
  if (!decoded.ok) return { ok: false, reason: `the aggregate frame is refused: ${decoded.error.message}` };
  const update = new Float32Array(weights.length);
  const { indices, values } = decoded.value;
  for (let j = 0; j < indices.length; j++) update[indices[j] as number] = values[j] as number;
  zeroPadding(update, layout);
  const next = weights.slice();
  const nextMomentum = momentum.slice();
  nesterovStep(next, nextMomentum, update, outer.outerLr, outer.outerMomentum);
  if (!allFinite(next) || !allFinite(nextMomentum))
    return { ok: false, reason: 'the aggregate is not finite (NaN or infinity)' };
  return { ok: true, weights: next, momentum: nextMomentum };
}

function aggregateSpec(expected: FrameExpectation, outer: OuterSettings) {
  return { ...expected, aggregateBits: outer.aggregateBits ?? 32 };
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i] as number)) return false;
  return true;
}
