// The activation frame: one microbatch's tensor at a pipeline-stage boundary, activations
// forward or activation-gradients backward (docs/ARCHITECTURE.md, pipeline parallel). It
// describes itself in llm.c's manner and is decoded as untrusted input: the decoder never
// throws, checks every declared size against its caps before allocating, and refuses NaN and
// infinities, which would poison the receiving stage's forward or backward pass.
//
// Layout (integers little-endian):
//
//   offset  size  field
//   0       4     magic, ASCII "PLTA" (Potluck tensor, activation)
//   4       1     version, currently 1
//   5       1     direction: 1 = activation forward, 2 = activation-gradient backward
//   6       1     codec (CODECS below): 0 = raw f32; 1 = int8, 2 = int4, 5 = int3, 6 = int2;
//                 3 = delta int8, 4 = delta int4, 7 = delta int3, 8 = delta int2; and rounded
//                 stochastically, 9 = int8-sr, 10 = int4-sr, 11 = int3-sr, 12 = int2-sr
//   7       1     reserved, 0
//   8       4     round (u32)
//   12      4     microbatch (u32): its index within the round
//   16      4     sampleIdBase (u32): data position of the microbatch's first sequence (a
//                 volunteer's: its first token's in the training split, mod 2^32); with
//                 boundary and direction it keys the activation cache (kernels/pipeline/activation-cache.ts)
//   20      4     rows (u32): B * T
//   24      4     width (u32): C
//   28      2     boundary (u16): the stage boundary crossed, 0 between stages 0 and 1
//   30      2     blockSize (u16): values per scale, a multiple of 32 (quantize.ts's bounds)
//   32      4     CRC-32 of every other byte of the frame (this field left out)
//   36      ...   scales: one f32 per block (quantized codecs only)
//           ...   words: the packed codes, or the raw f32 values for codec 0
//
// Quantization is symmetric and signed, unlike quantize.ts's offset codes for pseudo-gradients:
// activations are centred on zero and a zero must decode to exactly zero. Per block, with
// L = 2^(bits-1) - 1 (127, 7, 3 or 1) and d the value (or, for delta codecs, the value minus the
// cached one): s = max |d| / L and q = d / s rounded to an integer in [-L, L], stored as a
// signed code of 8, 4, 3 or 2 bits (protocol/signed-codes.ts: one bit stream, every block
// starting on a word, the last one padded with zero codes, the code -2^(bits-1) never written and
// refused). The decoded value is f32(q * s), plus the cached value for delta codecs. The -sr
// codecs round stochastically (unbiased, for activation-gradients), the others to nearest;
// kernels/reference/activation-codec.ts is the encoder and says why. The decoder reads both
// alike: the frame names its rounding so that a receiver, and a log, can tell what it got.
//
// Delta codecs (AQ-SGD, Wang et al. 2022, "Fine-tuning language models over slow networks using
// activation quantization with guarantees"): when a sample comes back (the next epoch), the
// sender quantizes its change since the copy both peers cached last time. Slowly changing
// activations then cost the error of their change, not of their range.
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
import { ACTIVATION_FRAME_MAGIC } from './frame-magics.ts';
import { blockCount, isValidBlockSize, MAX_BLOCK_SIZE } from './quantize.ts';
import { type CodeBits, codeLevels, codeWordCount, signedCode, strayCode } from './signed-codes.ts';

export type ActivationDirection = 'forward' | 'backward';
export type ActivationCodec =
  | 'fp32'
  | 'int8'
  | 'int4'
  | 'int3'
  | 'int2'
  | 'delta-int8'
  | 'delta-int4'
  | 'delta-int3'
  | 'delta-int2'
  | 'int8-sr'
  | 'int4-sr'
  | 'int3-sr'
  | 'int2-sr';
export type ActivationRounding = 'nearest' | 'stochastic';

export interface ActivationFrame {
  readonly direction: ActivationDirection;
  readonly codec: ActivationCodec;
  readonly round: number;
  readonly microbatch: number;
  readonly boundary: number;
  readonly sampleIdBase: number;
  /** B * T. */
  readonly rows: number;
  /** C. */
  readonly width: number;
  readonly blockSize: number;
  /** One per block of rows * width values; empty for fp32. */
  readonly scales: Float32Array;
  readonly words: Uint32Array;
}

/** What an encoder produces for a frame: the GPU's read-back, or the CPU reference's output. */
export type ActivationPayload = Pick<ActivationFrame, 'scales' | 'words'>;

export interface ActivationFrameLimits {
  /** Largest frame accepted, in bytes. */
  readonly maxFrameBytes: number;
  /** Most values (rows * width) one frame may carry: what the decoder allocates. */
  readonly maxValues: number;
}

/**
 * 64 MiB holds a (8, 1024, 2048) microbatch in f32 (16M values), nearly four times that in int8;
 * 2^26 values bounds what a frame makes the receiver allocate (256 MiB of f32) whatever its codec.
 */
export const DEFAULT_ACTIVATION_LIMITS: ActivationFrameLimits = {
  maxFrameBytes: 64 * 2 ** 20,
  maxValues: 2 ** 26,
};

export const ACTIVATION_FRAME_VERSION = 1;

const DIRECTION_CODES: Readonly<Record<ActivationDirection, number>> = { forward: 1, backward: 2 };

interface CodecInfo {
  /** The codec byte. */
  readonly code: number;
  readonly bits: CodeBits | 32;
  readonly delta: boolean;
  readonly rounding: ActivationRounding;
}

/**
 * Every codec and its codec byte, which never changes meaning: new codecs take new numbers.
 * Stochastic rounding is for activation-gradients, which go plain, so no delta codec has it.
 */
const CODECS: Readonly<Record<ActivationCodec, CodecInfo>> = {
  fp32: { code: 0, bits: 32, delta: false, rounding: 'nearest' },
  int8: { code: 1, bits: 8, delta: false, rounding: 'nearest' },
  int4: { code: 2, bits: 4, delta: false, rounding: 'nearest' },
  int3: { code: 5, bits: 3, delta: false, rounding: 'nearest' },
  int2: { code: 6, bits: 2, delta: false, rounding: 'nearest' },
  'delta-int8': { code: 3, bits: 8, delta: true, rounding: 'nearest' },
  'delta-int4': { code: 4, bits: 4, delta: true, rounding: 'nearest' },
  'delta-int3': { code: 7, bits: 3, delta: true, rounding: 'nearest' },
  'delta-int2': { code: 8, bits: 2, delta: true, rounding: 'nearest' },
  'int8-sr': { code: 9, bits: 8, delta: false, rounding: 'stochastic' },
  'int4-sr': { code: 10, bits: 4, delta: false, rounding: 'stochastic' },
  'int3-sr': { code: 11, bits: 3, delta: false, rounding: 'stochastic' },
  'int2-sr': { code: 12, bits: 2, delta: false, rounding: 'stochastic' },
};

export const ACTIVATION_CODECS = Object.keys(CODECS) as readonly ActivationCodec[];

export { MAGIC_OFFSET, VERSION_OFFSET };
export const DIRECTION_OFFSET = VERSION_OFFSET + 1;
export const CODEC_OFFSET = DIRECTION_OFFSET + 1;
export const RESERVED_OFFSET = CODEC_OFFSET + 1;
export const ROUND_OFFSET = RESERVED_OFFSET + 1;
export const MICROBATCH_OFFSET = ROUND_OFFSET + 4;
export const SAMPLE_ID_BASE_OFFSET = MICROBATCH_OFFSET + 4;
export const ROWS_OFFSET = SAMPLE_ID_BASE_OFFSET + 4;
export const WIDTH_OFFSET = ROWS_OFFSET + 4;
export const BOUNDARY_OFFSET = WIDTH_OFFSET + 4;
export const BLOCK_SIZE_OFFSET = BOUNDARY_OFFSET + 2;
export const CHECKSUM_OFFSET = BLOCK_SIZE_OFFSET + 2;
export const ACTIVATION_FRAME_HEADER_BYTES = CHECKSUM_OFFSET + 4;

const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;
const F32_BYTES = 4;

/** Bits per value on the wire: 8, 4, 3 or 2 for the quantized codecs, 32 for raw f32. */
export function codecBits(codec: ActivationCodec): CodeBits | 32 {
  return CODECS[codec].bits;
}

/** Whether `codec` carries the change against the cached activation. */
export function isDeltaCodec(codec: ActivationCodec): boolean {
  return CODECS[codec].delta;
}

/** How the encoder rounds d / s: to nearest, or up with probability equal to the fraction. */
export function codecRounding(codec: ActivationCodec): ActivationRounding {
  return CODECS[codec].rounding;
}

/** L: codes run from -L to L, and a block's scale is its max |d| / L. */
export function codecLevels(codec: ActivationCodec): number {
  const bits = codecBits(codec);
  return bits === 32 ? 0 : codeLevels(bits);
}

/**
 * 1 / L as f32, as encoders hold it. A block's scale is max |d| times this (one correctly
 * rounded multiply, bit-equal on every GPU) rather than max |d| / L, since WGSL lets a division
 * be off by 2.5 ulp and the GPU's scales must match the CPU reference's exactly.
 */
export function inverseLevels(codec: ActivationCodec): number {
  return Math.fround(1 / codecLevels(codec));
}

/** The codec that sends `bits`-bit codes rounded to nearest, as a delta or not. */
export function quantizedCodec(bits: CodeBits, delta: boolean): ActivationCodec {
  const codec = `${delta ? 'delta-' : ''}int${bits}`;
  return codec as ActivationCodec;
}

export function activationScaleCount(codec: ActivationCodec, values: number, blockSize: number): number {
  return codecBits(codec) === 32 ? 0 : blockCount(values, blockSize);
}

export function activationWordCount(codec: ActivationCodec, values: number, blockSize: number): number {
  const bits = codecBits(codec);
  return bits === 32 ? values : codeWordCount(values, bits, blockSize);
}

/** The encoded size of a frame of `values` values, header included. */
export function activationFrameBytes(codec: ActivationCodec, values: number, blockSize: number): number {
  const body = activationScaleCount(codec, values, blockSize) + activationWordCount(codec, values, blockSize);
  return ACTIVATION_FRAME_HEADER_BYTES + F32_BYTES * body;
}

function isU32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= U32_MAX;
}

const ENVELOPE: FrameEnvelope = {
  name: 'activation frame',
  magic: ACTIVATION_FRAME_MAGIC,
  version: ACTIVATION_FRAME_VERSION,
  headerBytes: ACTIVATION_FRAME_HEADER_BYTES,
  checksumOffset: CHECKSUM_OFFSET,
};

function directionOf(code: number): ActivationDirection | null {
  for (const direction of ['forward', 'backward'] as const)
    if (DIRECTION_CODES[direction] === code) return direction;
  return null;
}

function codecOf(code: number): ActivationCodec | null {
  for (const codec of ACTIVATION_CODECS) if (CODECS[codec].code === code) return codec;
  return null;
}

/** Whether f32(scale * L) is finite: a larger scale would decode its codes to infinity. */
function isScaleValid(scale: number, levels: number): boolean {
  return Number.isFinite(scale) && scale >= 0 && Number.isFinite(Math.fround(scale * levels));
}

/** Encodes a frame of ours; throws RangeError when it is inconsistent (a bug on our side). */
export function encodeActivationFrame(frame: ActivationFrame): Uint8Array {
  const { codec, rows, width, blockSize } = frame;
  if (![frame.round, frame.microbatch, frame.sampleIdBase, rows, width].every(isU32))
    throw new RangeError('activation frame: round, microbatch, sample id and shape must be u32s');
  if (!(Number.isInteger(frame.boundary) && frame.boundary >= 0 && frame.boundary <= U16_MAX))
    throw new RangeError(`activation frame: boundary ${frame.boundary} is not a u16`);
  if (!Object.hasOwn(DIRECTION_CODES, frame.direction) || !Object.hasOwn(CODECS, codec))
    throw new RangeError(`activation frame: direction ${frame.direction} / codec ${codec} unknown`);
  if (!isValidBlockSize(blockSize) || rows === 0 || width === 0)
    throw new RangeError(`activation frame: block size ${blockSize}, shape ${rows}x${width} not valid`);
  const values = rows * width;
  const scales = activationScaleCount(codec, values, blockSize);
  const words = activationWordCount(codec, values, blockSize);
  if (frame.scales.length !== scales || frame.words.length !== words)
    throw new RangeError(
      `activation frame: needs ${scales} scales and ${words} words, got ${frame.scales.length} and ${frame.words.length}`,
    );
  // A non-finite scale means the activations themselves were (the run diverged): better a loud
  // failure here than a frame every receiver refuses.
  const levels = codecLevels(codec);
  if (!frame.scales.every((s) => isScaleValid(s, levels)))
    throw new RangeError('activation frame: a scale is negative, infinite or NaN');

  const out = new Uint8Array(activationFrameBytes(codec, values, blockSize));
  const view = new DataView(out.buffer);
  writeEnvelope(ENVELOPE, out);
  view.setUint8(DIRECTION_OFFSET, DIRECTION_CODES[frame.direction]);
  view.setUint8(CODEC_OFFSET, CODECS[codec].code);
  view.setUint32(ROUND_OFFSET, frame.round, true);
  view.setUint32(MICROBATCH_OFFSET, frame.microbatch, true);
  view.setUint32(SAMPLE_ID_BASE_OFFSET, frame.sampleIdBase, true);
  view.setUint32(ROWS_OFFSET, rows, true);
  view.setUint32(WIDTH_OFFSET, width, true);
  view.setUint16(BOUNDARY_OFFSET, frame.boundary, true);
  view.setUint16(BLOCK_SIZE_OFFSET, blockSize, true);
  writeScalesAndWords(view, ACTIVATION_FRAME_HEADER_BYTES, frame.scales, frame.words);
  sealFrame(ENVELOPE, out);
  return out;
}

/** Decodes an untrusted frame; never throws. */
export function decodeActivationFrame(
  bytes: Uint8Array,
  limits: ActivationFrameLimits = DEFAULT_ACTIVATION_LIMITS,
): DecodeResult<ActivationFrame> {
  const opened = openEnvelope(ENVELOPE, bytes);
  if (!opened.ok) return opened;
  const view = opened.value;
  const directionCode = view.getUint8(DIRECTION_OFFSET);
  const direction = directionOf(directionCode);
  if (!direction) return refuse('ERR_FRAME_KIND', `direction ${directionCode} is neither 1 nor 2`);
  const codec = codecOf(view.getUint8(CODEC_OFFSET));
  if (!codec) return refuse('ERR_FRAME_FIELD', `codec ${view.getUint8(CODEC_OFFSET)} is not one we know`);
  if (view.getUint8(RESERVED_OFFSET) !== 0) return refuse('ERR_FRAME_FIELD', 'reserved byte is not zero');
  const blockSize = view.getUint16(BLOCK_SIZE_OFFSET, true);
  if (!isValidBlockSize(blockSize))
    return refuse(
      'ERR_FRAME_FIELD',
      `block size ${blockSize} is not a multiple of 32 up to ${MAX_BLOCK_SIZE}`,
    );
  const rows = view.getUint32(ROWS_OFFSET, true);
  const width = view.getUint32(WIDTH_OFFSET, true);
  if (rows === 0 || width === 0) return refuse('ERR_FRAME_FIELD', `empty shape ${rows}x${width}`);
  // Both factors are below 2^32, so the product is exact enough to compare with a cap < 2^53.
  const values = rows * width;
  if (values > limits.maxValues)
    return refuse('ERR_FRAME_TOO_LARGE', `${rows}x${width} values exceed the cap of ${limits.maxValues}`);
  const total = activationFrameBytes(codec, values, blockSize);
  const sized = checkFrameBytes(ENVELOPE, bytes, total, limits.maxFrameBytes);
  if (!sized.ok) return sized;

  // Only now, with the bytes in hand and under the caps, is anything allocated.
  const levels = codecLevels(codec);
  const scales = new Float32Array(activationScaleCount(codec, values, blockSize));
  let at = ACTIVATION_FRAME_HEADER_BYTES;
  for (let b = 0; b < scales.length; b++, at += F32_BYTES) {
    const scale = view.getFloat32(at, true);
    if (!isScaleValid(scale, levels)) return refuse('ERR_FRAME_VALUE', `scale ${b} is ${scale}`);
    scales[b] = scale;
  }
  const words = new Uint32Array(activationWordCount(codec, values, blockSize));
  for (let w = 0; w < words.length; w++, at += F32_BYTES) words[w] = view.getUint32(at, true);
  const codes = checkCodes(words, codecBits(codec), values);
  if (!codes.ok) return codes;
  const frame: ActivationFrame = {
    direction,
    codec,
    round: view.getUint32(ROUND_OFFSET, true),
    microbatch: view.getUint32(MICROBATCH_OFFSET, true),
    boundary: view.getUint16(BOUNDARY_OFFSET, true),
    sampleIdBase: view.getUint32(SAMPLE_ID_BASE_OFFSET, true),
    rows,
    width,
    blockSize,
    scales,
    words,
  };
  return { ok: true, value: frame };
}

/**
 * Raw values must be finite; codes must be in [-L, L] (the encoder never writes -2^(bits-1)),
 * and the last block's padding must be zero, so that each tensor has exactly one packing.
 */
function checkCodes(words: Uint32Array, bits: CodeBits | 32, values: number): DecodeResult<null> {
  if (bits === 32) {
    const floats = new Float32Array(words.buffer, words.byteOffset, words.length);
    for (let j = 0; j < floats.length; j++)
      if (!Number.isFinite(floats[j])) return refuse('ERR_FRAME_VALUE', `value ${j} is ${floats[j]}`);
    return { ok: true, value: null };
  }
  const stray = strayCode(words, bits, values);
  return stray ? refuse('ERR_FRAME_VALUE', stray) : { ok: true, value: null };
}

/**
 * The tensor a frame carries, (rows, width) row-major. Delta codecs need `cached`, the
 * activation this peer holds for the frame's key (kernels/pipeline/activation-cache.ts), of rows * width values;
 * without it, or with another length, the result is ERR_FRAME_NO_CACHE. Never throws.
 */
export function dequantizeActivations(
  frame: ActivationFrame,
  cached?: Float32Array,
): DecodeResult<Float32Array> {
  const { codec, blockSize, scales, words } = frame;
  const values = frame.rows * frame.width;
  const bits = codecBits(codec);
  if (bits === 32)
    return { ok: true, value: new Float32Array(words.buffer, words.byteOffset, values).slice() };
  const delta = isDeltaCodec(codec);
  if (delta && cached?.length !== values)
    return refuse(
      'ERR_FRAME_NO_CACHE',
      `${codec} frame of ${values} values, cached ${cached ? `${cached.length} values` : 'nothing'}`,
    );
  const out = new Float32Array(values);
  for (let b = 0; b < scales.length; b++) {
    const scale = scales[b] as number;
    const end = Math.min(values, (b + 1) * blockSize);
    for (let j = b * blockSize; j < end; j++) {
      // q * s is exact in a double (8 by 24 bits), so fround gives the f32 product every peer
      // computes; likewise fround(cached + d) is the correctly rounded f32 sum.
      const d = Math.fround(signedCode(words, bits, j) * scale);
      out[j] = delta ? Math.fround((cached?.[j] as number) + d) : d;
    }
  }
  // Plain codes cannot overflow (the decoder bounds s * L); a large delta on a large cached
  // value can.
  if (delta)
    for (let j = 0; j < values; j++)
      if (!Number.isFinite(out[j])) return refuse('ERR_FRAME_VALUE', `value ${j} overflows to ${out[j]}`);
  return { ok: true, value: out };
}

/**
 * Direction, step, microbatch and codec (null when unknown) from an activation frame's header
 * alone (null when it is not one): a pipeline peer files a frame under its microbatch before
 * decoding it, and tells its page what it sent.
 */
export function activationFrameHeader(bytes: Uint8Array): {
  direction: ActivationDirection;
  round: number;
  microbatch: number;
  codec: ActivationCodec | null;
} | null {
  const view = peekHeader(ENVELOPE, bytes);
  if (!view) return null;
  const direction = directionOf(view.getUint8(DIRECTION_OFFSET));
  if (!direction) return null;
  return {
    direction,
    round: view.getUint32(ROUND_OFFSET, true),
    microbatch: view.getUint32(MICROBATCH_OFFSET, true),
    codec: codecOf(view.getUint8(CODEC_OFFSET)),
  };
}
