// What a peer's pseudo-gradient goes through before it is sent, each stage optional
// (CocktailSGD, Wang et al. 2023: random sparsification, then top-k, then quantization; or
// SparseLoCo, Templar 2025: top-k per chunk, then quantization, with decayed error feedback). The
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
  /**
   * Top-k per chunk of this many parameters (SparseLoCo): each chunk keeps its own share of
   * the values (chunkTopKOffsets), so no tensor is starved by another's larger scale, as one
   * top-k over the whole model starves them. Absent: one top-k over all candidates.
   */
  readonly chunkSize?: number;
  /**
   * β: the share of what a round did not send that the next round carries (error feedback:
   * residual = β · (acc − sent)). Absent: 1, all of it.
   */
  readonly errorDecay?: number;
}

/** Chunk sizes the per-chunk top-k accepts: whole workgroups of the GPU kernel's 256 threads. */
export const CHUNK_GRANULE = 256;
export const MAX_CHUNK_SIZE = 65_536;

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

export const CompressionSchema = v.pipe(
  v.object({
    randomK: fraction('randomK'),
    topK: fraction('topK'),
    bits: quantBitsSchema('bits'),
    blockSize: BlockSizeSchema,
    chunkSize: v.optional(
      v.pipe(
        v.number(),
        v.check(
          (x) => Number.isInteger(x) && x >= CHUNK_GRANULE && x <= MAX_CHUNK_SIZE && x % CHUNK_GRANULE === 0,
          (issue) =>
            `chunkSize must be a multiple of ${CHUNK_GRANULE} from ${CHUNK_GRANULE} to ${MAX_CHUNK_SIZE}, got ${issue.input}`,
        ),
      ),
    ),
    errorDecay: v.optional(fraction('errorDecay')),
  }),
  // Chunks share out the values top-k keeps among all parameters; random-k's candidates would
  // leave each chunk a different number to choose from.
  v.check((s) => s.chunkSize === undefined || s.randomK === 1, 'chunkSize (top-k per chunk) needs randomK 1'),
);

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
 * Where each chunk's kept values start among the frame's topKCount(n, topK) values, and where
 * the last ends (chunks + 1 offsets, so chunk c keeps offsets[c + 1] − offsets[c]): each chunk
 * keeps floor(topK · its length), and the few values over go one each to the first chunks, so
 * a per-chunk frame carries exactly the count the relay expects of any frame of the run.
 */
export function chunkTopKOffsets(n: number, topK: number, chunkSize: number): Uint32Array {
  const chunks = Math.ceil(n / chunkSize);
  const shares = Array.from({ length: chunks }, (_, c) =>
    Math.floor(topK * (Math.min(n, (c + 1) * chunkSize) - c * chunkSize)),
  );
  const leftOver = topKCount(n, topK) - shares.reduce((a, b) => a + b, 0);
  const offsets = new Uint32Array(chunks + 1);
  for (let c = 0; c < chunks; c++)
    offsets[c + 1] = (offsets[c] as number) + (shares[c] as number) + (c < leftOver ? 1 : 0);
  return offsets;
}

/** β of the settings' error feedback (1 when the run names none). */
export function errorDecayOf(s: CompressionSettings): number {
  return s.errorDecay ?? 1;
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
