// The compressed-tensor frame: one peer's pseudo-gradient as it crosses a data channel. It
// describes itself (magic, version, kind) in llm.c's manner and is decoded as untrusted
// input: the decoder never throws, checks every declared size against its caps before
// allocating, and refuses NaN, which would poison every peer's weights.
//
// Layout (integers little-endian):
//
//   offset  size  field
//   0       4     magic, ASCII "PLTF" (Potluck tensor frame)
//   4       1     version, currently 1
//   5       1     kind: 1 = pseudo-gradient (a data-parallel round's contribution); for
//                 pipeline stages (kernels/pipeline/): 2 = a stage replica's summed
//                 gradients, 3 = the head's gradient of the tied embedding, 4 = the tied
//                 embedding's new weights, 5 = a stage's whole state for a new replica
//                 (weights, AdamW m and v; the seed field holds AdamW's step count);
//                 6 = a round's aggregate as the relay sends it back (aggregate-frame.ts).
//                 Activations have their own frame
//                 (activation-frame.ts); any other kind is refused
//   6       1     bits per value: 1, 2, 4, 8 (blockwise quantized) or 32 (raw f32)
//   7       1     flags: bit 0 = every random-k candidate is sent (no index section)
//   8       4     round (u32): the round whose shared seed this frame refers to
//   12      4     seed (u32): random-k candidates are regenerated from it (protocol/random-k.ts)
//   16      4     keepMax (u32): random-k threshold; 2^32 - 1 = random-k off
//   20      4     paramOffset (u32): first parameter the frame covers
//   24      4     paramCount (u32): parameters covered
//   28      4     candidateCount (u32): random-k candidates in that range
//   32      4     valueCount (u32): values sent, at most candidateCount
//   36      2     blockSize (u16): values per quantization block (protocol/quantize.ts)
//   38      2     reserved, 0
//   40      4     index section length in bytes, a multiple of 4
//   44      4     CRC-32 of every other byte of the frame (this field left out)
//   48      ...   index section: the ordinals (positions in the candidate list) of the sent
//                 values as LEB128 varints, the first one, then each gap minus one; zero
//                 padding to a multiple of 4 so what follows is 4-aligned
//           ...   scales: one f32 per block (bits < 32 only)
//           ...   words: the packed codes, or the raw f32 values for bits = 32
//
// A content has exactly one encoding, so a frame's hash (what manifests and decisions name)
// identifies what it says: varints are minimal, the index section is no longer than its
// padding needs, a frame sending every candidate says so with the flag rather than listing
// them, a scale is never -0, and padding bits and the codes of a zero-scale block are zero.
import {
  checkFrameBytes,
  type FrameEnvelope,
  MAGIC_OFFSET,
  openEnvelope,
  peekHeader,
  sealFrame,
  VERSION_OFFSET,
  writeEnvelope,
  writeScalesAndWords,
} from './frame-envelope.ts';
import { type DecodeResult, refuse } from './frame-errors.ts';
import { TENSOR_FRAME_MAGIC } from './frame-magics.ts';
import {
  blockCount,
  isQuantBits,
  isValidBlockSize,
  MAX_BLOCK_SIZE,
  packedWordCount,
  type QuantBits,
  strayCodeBits,
} from './quantize.ts';
import { MAX_VARINT_BYTES, readVarint, varintLength, writeVarint } from './varint.ts';

export type TensorKind =
  | 'pseudo-gradient'
  | 'stage-gradients'
  | 'tied-gradient'
  | 'tied-weights'
  | 'stage-state'
  | 'round-aggregate';

export interface TensorFrame {
  readonly kind: TensorKind;
  readonly round: number;
  readonly seed: number;
  readonly keepMax: number;
  readonly paramOffset: number;
  readonly paramCount: number;
  readonly candidateCount: number;
  readonly bits: QuantBits;
  readonly blockSize: number;
  /** Strictly ascending positions in the candidate list; null when every candidate is sent. */
  readonly ordinals: Uint32Array | null;
  readonly valueCount: number;
  /** One per block when bits < 32; empty for 32. */
  readonly scales: Float32Array;
  readonly words: Uint32Array;
}

export interface FrameLimits {
  /** Largest frame accepted, in bytes. */
  readonly maxFrameBytes: number;
  /** Most parameters one frame may cover (each costs the decoder a hash to regenerate). */
  readonly maxParamCount: number;
}

/**
 * 64 MiB holds a dense fp32 frame of 16M parameters, far beyond what a tab trains today;
 * 2^28 parameters bounds the random-k regeneration at ~1 s of hashing.
 */
export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxFrameBytes: 64 * 2 ** 20, maxParamCount: 2 ** 28 };

export const TENSOR_FRAME_VERSION = 1;

const KIND_CODES: Readonly<Record<TensorKind, number>> = {
  'pseudo-gradient': 1,
  'stage-gradients': 2,
  'tied-gradient': 3,
  'tied-weights': 4,
  'stage-state': 5,
  'round-aggregate': 6,
};
const FLAG_ALL_CANDIDATES = 1;

export { MAGIC_OFFSET, VERSION_OFFSET };
export const KIND_OFFSET = VERSION_OFFSET + 1;
export const BITS_OFFSET = KIND_OFFSET + 1;
export const FLAGS_OFFSET = BITS_OFFSET + 1;
export const ROUND_OFFSET = FLAGS_OFFSET + 1;
export const SEED_OFFSET = ROUND_OFFSET + 4;
export const KEEP_MAX_OFFSET = SEED_OFFSET + 4;
export const PARAM_OFFSET_OFFSET = KEEP_MAX_OFFSET + 4;
export const PARAM_COUNT_OFFSET = PARAM_OFFSET_OFFSET + 4;
export const CANDIDATE_COUNT_OFFSET = PARAM_COUNT_OFFSET + 4;
export const VALUE_COUNT_OFFSET = CANDIDATE_COUNT_OFFSET + 4;
export const BLOCK_SIZE_OFFSET = VALUE_COUNT_OFFSET + 4;
export const RESERVED_OFFSET = BLOCK_SIZE_OFFSET + 2;
export const INDEX_BYTES_OFFSET = RESERVED_OFFSET + 2;
export const CHECKSUM_OFFSET = INDEX_BYTES_OFFSET + 4;
export const TENSOR_FRAME_HEADER_BYTES = CHECKSUM_OFFSET + 4;

const U32_MAX = 0xffffffff;

function isU32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= U32_MAX;
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function scaleCount(bits: QuantBits, valueCount: number, blockSize: number): number {
  return bits === 32 ? 0 : blockCount(valueCount, blockSize);
}

const ENVELOPE: FrameEnvelope = {
  name: 'tensor frame',
  magic: TENSOR_FRAME_MAGIC,
  version: TENSOR_FRAME_VERSION,
  headerBytes: TENSOR_FRAME_HEADER_BYTES,
  checksumOffset: CHECKSUM_OFFSET,
};

/** Encodes a frame of ours; throws RangeError when it is inconsistent (a bug on our side). */
export function encodeTensorFrame(frame: TensorFrame): Uint8Array {
  const { bits, blockSize, ordinals, valueCount, candidateCount, paramCount, paramOffset } = frame;
  const fields = [
    frame.round,
    frame.seed,
    frame.keepMax,
    paramOffset,
    paramCount,
    candidateCount,
    valueCount,
  ];
  if (!fields.every(isU32)) throw new RangeError('tensor frame: every count and id must be a u32');
  if (!isQuantBits(bits) || !isValidBlockSize(blockSize))
    throw new RangeError(`tensor frame: bits ${bits} / block size ${blockSize} are not valid`);
  if (valueCount > candidateCount || candidateCount > paramCount || paramOffset + paramCount > U32_MAX + 1)
    throw new RangeError('tensor frame: counts out of order (values <= candidates <= parameters)');
  if ((ordinals === null ? candidateCount : ordinals.length) !== valueCount)
    throw new RangeError(`tensor frame: ${ordinals?.length} ordinals for ${valueCount} values`);
  if (ordinals !== null && valueCount === candidateCount)
    throw new RangeError('tensor frame: a frame sending every candidate has ordinals null');
  const scales = scaleCount(bits, valueCount, blockSize);
  const words = packedWordCount(valueCount, bits, blockSize);
  if (frame.scales.length !== scales || frame.words.length !== words)
    throw new RangeError(
      `tensor frame: needs ${scales} scales and ${words} words, got ${frame.scales.length} and ${frame.words.length}`,
    );
  const stray = strayCodeBits(frame.words, frame.scales, bits, blockSize, valueCount);
  if (stray) throw new RangeError(`tensor frame: ${stray}`);

  let indexBytes = 0;
  if (ordinals) {
    let previous = -1;
    for (const ordinal of ordinals) {
      if (ordinal <= previous || ordinal >= candidateCount)
        throw new RangeError('tensor frame: ordinals must ascend strictly below candidateCount');
      indexBytes += varintLength(ordinal - previous - 1);
      previous = ordinal;
    }
  }
  const indexSection = align4(indexBytes);
  const out = new Uint8Array(TENSOR_FRAME_HEADER_BYTES + indexSection + 4 * (scales + words));
  const view = new DataView(out.buffer);
  writeEnvelope(ENVELOPE, out);
  view.setUint8(KIND_OFFSET, KIND_CODES[frame.kind]);
  view.setUint8(BITS_OFFSET, bits);
  view.setUint8(FLAGS_OFFSET, ordinals === null ? FLAG_ALL_CANDIDATES : 0);
  view.setUint32(ROUND_OFFSET, frame.round, true);
  view.setUint32(SEED_OFFSET, frame.seed, true);
  view.setUint32(KEEP_MAX_OFFSET, frame.keepMax, true);
  view.setUint32(PARAM_OFFSET_OFFSET, paramOffset, true);
  view.setUint32(PARAM_COUNT_OFFSET, paramCount, true);
  view.setUint32(CANDIDATE_COUNT_OFFSET, candidateCount, true);
  view.setUint32(VALUE_COUNT_OFFSET, valueCount, true);
  view.setUint16(BLOCK_SIZE_OFFSET, blockSize, true);
  view.setUint32(INDEX_BYTES_OFFSET, indexSection, true);
  let at = TENSOR_FRAME_HEADER_BYTES;
  if (ordinals) {
    let previous = -1;
    for (const ordinal of ordinals) {
      at = writeVarint(out, at, ordinal - previous - 1);
      previous = ordinal;
    }
  }
  writeScalesAndWords(view, TENSOR_FRAME_HEADER_BYTES + indexSection, frame.scales, frame.words);
  sealFrame(ENVELOPE, out);
  return out;
}

/** Decodes an untrusted frame; never throws. */
export function decodeTensorFrame(
  bytes: Uint8Array,
  limits: FrameLimits = DEFAULT_FRAME_LIMITS,
): DecodeResult<TensorFrame> {
  const opened = openEnvelope(ENVELOPE, bytes);
  if (!opened.ok) return opened;
  const view = opened.value;
  const kindCode = view.getUint8(KIND_OFFSET);
  const kind = kindOf(kindCode);
  if (!kind) return refuse('ERR_FRAME_KIND', `tensor kind ${kindCode} is not read by this version`);
  const bits = view.getUint8(BITS_OFFSET);
  const flags = view.getUint8(FLAGS_OFFSET);
  const blockSize = view.getUint16(BLOCK_SIZE_OFFSET, true);
  if (!isQuantBits(bits)) return refuse('ERR_FRAME_FIELD', `bits ${bits} is not 1, 2, 4, 8 or 32`);
  if (!isValidBlockSize(blockSize))
    return refuse(
      'ERR_FRAME_FIELD',
      `block size ${blockSize} is not a multiple of 32 up to ${MAX_BLOCK_SIZE}`,
    );
  if ((flags & ~FLAG_ALL_CANDIDATES) !== 0 || view.getUint16(RESERVED_OFFSET, true) !== 0)
    return refuse('ERR_FRAME_FIELD', 'unknown flags or reserved bits set');
  const round = view.getUint32(ROUND_OFFSET, true);
  const seed = view.getUint32(SEED_OFFSET, true);
  const keepMax = view.getUint32(KEEP_MAX_OFFSET, true);
  const paramOffset = view.getUint32(PARAM_OFFSET_OFFSET, true);
  const paramCount = view.getUint32(PARAM_COUNT_OFFSET, true);
  const candidateCount = view.getUint32(CANDIDATE_COUNT_OFFSET, true);
  const valueCount = view.getUint32(VALUE_COUNT_OFFSET, true);
  const indexBytes = view.getUint32(INDEX_BYTES_OFFSET, true);
  if (paramCount > limits.maxParamCount)
    return refuse(
      'ERR_FRAME_TOO_LARGE',
      `${paramCount} parameters exceed the cap of ${limits.maxParamCount}`,
    );
  if (paramOffset + paramCount > U32_MAX + 1)
    return refuse('ERR_FRAME_FIELD', 'parameter range runs past 2^32');
  if (candidateCount > paramCount || valueCount > candidateCount)
    return refuse(
      'ERR_FRAME_FIELD',
      `${valueCount} values of ${candidateCount} candidates of ${paramCount} parameters`,
    );
  const all = (flags & FLAG_ALL_CANDIDATES) !== 0;
  if (!all && valueCount === candidateCount)
    return refuse('ERR_FRAME_INDEX', 'every candidate is listed; such a frame sets the all-candidates flag');
  if (
    all
      ? valueCount !== candidateCount || indexBytes !== 0
      : indexBytes % 4 !== 0 || indexBytes > align4(valueCount * MAX_VARINT_BYTES)
  )
    return refuse(
      'ERR_FRAME_FIELD',
      `index section of ${indexBytes} bytes does not fit ${valueCount} values`,
    );
  const scales = scaleCount(bits, valueCount, blockSize);
  const words = packedWordCount(valueCount, bits, blockSize);
  const total = TENSOR_FRAME_HEADER_BYTES + indexBytes + 4 * (scales + words);
  const sized = checkFrameBytes(ENVELOPE, bytes, total, limits.maxFrameBytes);
  if (!sized.ok) return sized;

  let ordinals: Uint32Array | null = null;
  const indexEnd = TENSOR_FRAME_HEADER_BYTES + indexBytes;
  if (!all) {
    ordinals = new Uint32Array(valueCount);
    let at = TENSOR_FRAME_HEADER_BYTES;
    let previous = -1;
    for (let j = 0; j < valueCount; j++) {
      const gap = readVarint(bytes, at, indexEnd);
      if (!gap) return refuse('ERR_FRAME_INDEX', `index ${j} is cut off, overlong or overflows`);
      const ordinal = previous + 1 + gap.value;
      if (ordinal >= candidateCount)
        return refuse('ERR_FRAME_INDEX', `ordinal ${ordinal} is past ${candidateCount} candidates`);
      ordinals[j] = ordinal;
      previous = ordinal;
      at = gap.next;
    }
    if (indexEnd - at >= 4)
      return refuse(
        'ERR_FRAME_INDEX',
        `index section of ${indexBytes} bytes holds ${at - TENSOR_FRAME_HEADER_BYTES}`,
      );
    for (; at < indexEnd; at++)
      if (bytes[at] !== 0) return refuse('ERR_FRAME_INDEX', 'index padding is not zero');
  }
  const scaleArray = new Float32Array(scales);
  let at = indexEnd;
  for (let b = 0; b < scales; b++, at += 4) {
    const scale = view.getFloat32(at, true);
    if (!(Number.isFinite(scale) && scale >= 0)) return refuse('ERR_FRAME_VALUE', `scale ${b} is ${scale}`);
    // -0 decodes as 0 does: two encodings of one block.
    if (Object.is(scale, -0)) return refuse('ERR_FRAME_VALUE', `scale ${b} is -0`);
    scaleArray[b] = scale;
  }
  const wordArray = new Uint32Array(words);
  for (let w = 0; w < words; w++, at += 4) {
    wordArray[w] = view.getUint32(at, true);
    if (bits === 32 && !Number.isFinite(view.getFloat32(at, true)))
      return refuse('ERR_FRAME_VALUE', `value ${w} is not finite`);
  }
  const stray = strayCodeBits(wordArray, scaleArray, bits, blockSize, valueCount);
  if (stray) return refuse('ERR_FRAME_FIELD', stray);
  const frame: TensorFrame = {
    kind,
    round,
    seed,
    keepMax,
    paramOffset,
    paramCount,
    candidateCount,
    bits,
    blockSize,
    ordinals,
    valueCount,
    scales: scaleArray,
    words: wordArray,
  };
  return { ok: true, value: frame };
}

/**
 * The round a frame says it belongs to, from its header alone (null when it is not one of our
 * frames): a peer's inbox may still hold a frame of an aborted round when the next one starts.
 */
export function frameRound(bytes: Uint8Array): number | null {
  return peekHeader(ENVELOPE, bytes)?.getUint32(ROUND_OFFSET, true) ?? null;
}

/** The kind a tensor frame says it is, from its header alone (null when it is not one of ours). */
export function frameKind(bytes: Uint8Array): TensorKind | null {
  const header = peekHeader(ENVELOPE, bytes);
  return header ? kindOf(header.getUint8(KIND_OFFSET)) : null;
}

function kindOf(code: number): TensorKind | null {
  return (Object.keys(KIND_CODES) as TensorKind[]).find((k) => KIND_CODES[k] === code) ?? null;
}
