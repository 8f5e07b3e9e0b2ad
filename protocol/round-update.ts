// From θ_r and a round's counted frames to θ_{r+1} (docs/ARCHITECTURE.md, "One training round",
// steps 10-11): decode every counted frame in the run's exact format, aggregate them robustly,
// take the outer step, zero the layout's padding. The peers run this to land on the new state,
// and the relay runs the same function on the frames it holds to decide what it commits, so
// what is committed never rests on who reported which hash.
import type { Contribution } from './aggregate.ts';
import type { CompressionSettings } from './compression-settings.ts';
import { expandFrame, type SparseValues } from './expand-frame.ts';
import type { DecodeResult, FrameError } from './frame-errors.ts';
import { inRunFormat } from './frame-format.ts';
import { nesterovStep } from './outer-optimizer.ts';
import { type ParamLayout, zeroPadding } from './param-layout.ts';
import { type AggregationReport, type AggregationSettings, robustAggregate } from './robust-aggregate.ts';
import { decodeTensorFrame } from './tensor-frame.ts';

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
}

export type RoundUpdate =
  | {
      readonly ok: true;
      readonly weights: Float32Array;
      readonly momentum: Float32Array;
      /** Counted frames that could not be used (every peer refuses the same ones). */
      readonly refused: readonly { readonly peer: string; readonly error: FrameError }[];
      readonly report: AggregationReport;
    }
  | { readonly ok: false; readonly reason: string };

/** A round's frame as sparse values, or the reason it is refused; never throws. */
export function decodeContribution(
  bytes: Uint8Array,
  expected: FrameExpectation,
): DecodeResult<SparseValues> {
  const decoded = decodeTensorFrame(bytes);
  if (!decoded.ok) return decoded;
  const frame = decoded.value;
  if (
    frame.kind !== 'pseudo-gradient' ||
    frame.round !== expected.round ||
    frame.seed !== expected.seed ||
    frame.paramOffset !== 0 ||
    frame.paramCount !== expected.totalFloats
  )
    return {
      ok: false,
      error: {
        code: 'ERR_FRAME_FIELD',
        message: `${frame.kind} frame for round ${frame.round} seed ${frame.seed} over ${frame.paramCount} parameters; expected round ${expected.round} seed ${expected.seed} over ${expected.totalFloats}`,
      },
    };
  const format = inRunFormat(frame, expected.compression);
  if (!format.ok) return format;
  const expanded = expandFrame(frame);
  if (!expanded.ok) return expanded;
  // Finite scales can still decode to infinities: 2 × a scale above 1.7e38 overflows fp32
  // (protocol/quantize.ts), and q × ∞ − s is ∞ or NaN. One such frame would abort every round.
  const { values } = expanded.value;
  for (let j = 0; j < values.length; j++)
    if (!Number.isFinite(values[j] as number))
      return { ok: false, error: { code: 'ERR_FRAME_VALUE', message: `value ${j} decodes to ${values[j]}` } };
  return expanded;
}

/**
 * θ_{r+1} and its outer momentum, computed beside θ_r (the inputs are not changed). Not ok when
 * the result is not finite: the round aborts, the run keeps θ_r.
 */
export function roundUpdate(
  weights: Float32Array,
  momentum: Float32Array,
  counted: readonly CountedFrame[],
  expected: FrameExpectation,
  layout: ParamLayout,
  outer: OuterSettings,
): RoundUpdate {
  const contributions: Contribution[] = [];
  const refused: { peer: string; error: FrameError }[] = [];
  for (const { peer, tokens, frame } of counted) {
    const decoded = decodeContribution(frame, expected);
    if (decoded.ok) contributions.push({ peer, tokens, ...decoded.value });
    else refused.push({ peer, error: decoded.error });
  }
  const next = weights.slice();
  const nextMomentum = momentum.slice();
  const { update, report } = robustAggregate(next.length, contributions, outer.aggregation);
  if (contributions.length > 0) {
    zeroPadding(update, layout);
    nesterovStep(next, nextMomentum, update, outer.outerLr, outer.outerMomentum);
  }
  if (!allFinite(next) || !allFinite(nextMomentum))
    return { ok: false, reason: 'the aggregate is not finite (NaN or infinity)' };
  return { ok: true, weights: next, momentum: nextMomentum, refused, report };
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i] as number)) return false;
  return true;
}
