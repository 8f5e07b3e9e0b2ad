// A round's frame as sparse values, checked against what the round expects: its kind (a
// member's contribution, or the relay's aggregate), round, seed, the model's size and the
// compression the run sends it in; the values must all be finite. Never throws.
import type { CompressionSettings } from './compression-settings.ts';
import { expandFrame, type SparseValues } from './expand-frame.ts';
import { type DecodeResult, refuse } from './frame-errors.ts';
import { inRunFormat } from './frame-format.ts';
import { decodeTensorFrame, type TensorKind } from './tensor-frame.ts';

export interface RoundFrameShape {
  readonly round: number;
  readonly seed: number;
  /** Floats of the flat parameter buffer, padding included. */
  readonly totalFloats: number;
}

export function decodeRoundValues(
  bytes: Uint8Array,
  kind: TensorKind,
  expected: RoundFrameShape,
  compression: CompressionSettings,
): DecodeResult<SparseValues> {
  const decoded = decodeTensorFrame(bytes);
  if (!decoded.ok) return decoded;
  const frame = decoded.value;
  if (
    frame.kind !== kind ||
    frame.round !== expected.round ||
    frame.seed !== expected.seed ||
    frame.paramOffset !== 0 ||
    frame.paramCount !== expected.totalFloats
  )
    return refuse(
      'ERR_FRAME_FIELD',
      `${frame.kind} frame for round ${frame.round} seed ${frame.seed} over ${frame.paramCount} parameters; expected a ${kind} frame for round ${expected.round} seed ${expected.seed} over ${expected.totalFloats}`,
    );
  const format = inRunFormat(frame, compression);
  if (!format.ok) return format;
  const expanded = expandFrame(frame);
  if (!expanded.ok) return expanded;
  // Finite scales can still decode to infinities: 2 × a scale above 1.7e38 overflows fp32
  // (quantize.ts), and q × ∞ − s is ∞ or NaN. One such frame would abort every round.
  const { values } = expanded.value;
  for (let j = 0; j < values.length; j++)
    if (!Number.isFinite(values[j] as number))
      return refuse('ERR_FRAME_VALUE', `value ${j} decodes to ${values[j]}`);
  return expanded;
}
