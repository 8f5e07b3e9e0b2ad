// What a peer's pseudo-gradient goes through before it is sent, each stage optional
// (CocktailSGD, Wang et al. 2023: random sparsification, then top-k, then quantization). The
// schema is the run config's `round.compression` (run-config.ts); the GPU compressor and the
// benchmarks check hand-made settings against the same rules.
import * as v from 'valibot';
import { isQuantBits, isValidBlockSize, type QuantBits } from './quantize.ts';

export interface CompressionSettings {
  /** Fraction of parameters random-k keeps as candidates, in (0, 1]; 1 = off. */
  readonly randomK: number;
  /** Fraction of the candidates top-k keeps (the largest magnitudes), in (0, 1]; 1 = off. */
  readonly topK: number;
  /** Bits per kept value: 1, 2, 4 or 8 blockwise; 32 = fp32, no quantization. */
  readonly bits: QuantBits;
  /** Values per quantization block (one f32 scale each): a multiple of 32. */
  readonly blockSize: number;
}

/** No compression: every parameter as fp32 (DiLoCo as published). */
export const DENSE: CompressionSettings = { randomK: 1, topK: 1, bits: 32, blockSize: 128 };

const fraction = (name: string) =>
  v.pipe(
    v.number(),
    v.check(
      (x) => x > 0 && x <= 1,
      (issue) => `${name} must be in (0, 1], got ${issue.input}`,
    ),
  );

/** Values per quantization scale: the tensor and activation frames' rule (quantize.ts). */
export const BlockSizeSchema = v.pipe(
  v.number(),
  v.check(
    isValidBlockSize,
    (issue) => `blockSize must be a multiple of 32 from 32 to 4096, got ${issue.input}`,
  ),
);

/** Bits per value of a quantized list (quantize.ts), under the field's name in the message. */
export const quantBitsSchema = (name: string) =>
  v.custom<QuantBits>(
    (x) => typeof x === 'number' && isQuantBits(x),
    (issue) => `${name} must be 1, 2, 4, 8 or 32, got ${issue.input}`,
  );

export const CompressionSchema = v.object({
  randomK: fraction('randomK'),
  topK: fraction('topK'),
  bits: quantBitsSchema('bits'),
  blockSize: BlockSizeSchema,
});

/** Throws a RangeError naming the first rule `s` breaks (the run config's own rules). */
export function validateCompression(s: CompressionSettings): void {
  const parsed = v.safeParse(CompressionSchema, s);
  if (!parsed.success) throw new RangeError(parsed.issues[0].message);
}

/** Values top-k keeps out of `candidateCount`: at least one when there is any. */
export function topKCount(candidateCount: number, topK: number): number {
  if (candidateCount === 0) return 0;
  return Math.min(candidateCount, Math.max(1, Math.round(topK * candidateCount)));
}

/**
 * About how many bytes one peer's compressed pseudo-gradient frame (tensor-frame.ts) takes for
 * a model of `paramFloats` floats: the kept values at `bits` each, one f32 scale per block, an
 * 8-bit index delta per value when top-k chooses them, and the header. The relay sizes round
 * deadlines by it (relay/rounds/sizing.ts); an estimate, not the encoder's exact count.
 */
export function expectedFrameBytes(paramFloats: number, compression: CompressionSettings): number {
  const kept = paramFloats * compression.randomK * compression.topK;
  const bitsPerValue = compression.bits + 32 / compression.blockSize + (compression.topK < 1 ? 8 : 0);
  return Math.ceil((kept * bitsPerValue) / 8) + 64;
}
