// Whether a pseudo-gradient frame is in the run's format: the random-k fraction, the top-k
// count, the bits and the block size the run config names. A well-formed frame in another
// format (a dense fp32 frame in a 1-bit run, a denser or coarser one) carries more, or more
// precise, influence than the run lets any one peer have, so it is refused before it is summed.
// The same format bounds a frame's size, so a receiver knows the most a peer may announce.
import { type CompressionSettings, topKCount } from './compression-settings.ts';
import { type DecodeResult, refuse } from './frame-errors.ts';
import { blockCount, packedWordCount } from './quantize.ts';
import { keepMaxFor } from './random-k.ts';
import { TENSOR_FRAME_HEADER_BYTES, type TensorFrame } from './tensor-frame.ts';
import { MAX_VARINT_BYTES } from './varint.ts';

/** Values a varint byte holds: a gap needs one more byte each time it reaches a power of this. */
const VARINT_RADIX = 2 ** 7;

/** The frame itself when its format is the run's; never throws. */
export function inRunFormat(frame: TensorFrame, compression: CompressionSettings): DecodeResult<TensorFrame> {
  const keepMax = keepMaxFor(compression.randomK);
  if (frame.keepMax !== keepMax)
    return refuse(
      'ERR_FRAME_FORMAT',
      `random-k keeps below ${frame.keepMax}; the run keeps below ${keepMax}`,
    );
  if (frame.bits !== compression.bits || frame.blockSize !== compression.blockSize)
    return refuse(
      'ERR_FRAME_FORMAT',
      `${frame.bits} bits per ${frame.blockSize}; the run sends ${compression.bits} per ${compression.blockSize}`,
    );
  const kept = topKCount(frame.candidateCount, compression.topK);
  if (frame.valueCount !== kept)
    return refuse(
      'ERR_FRAME_FORMAT',
      `${frame.valueCount} values; the run keeps ${kept} of ${frame.candidateCount}`,
    );
  return { ok: true, value: frame };
}

/**
 * The most bytes a pseudo-gradient frame in the run's format takes for a model of
 * `paramFloats` floats: an exact bound, not an estimate (expectedFrameBytes is the estimate the
 * relay sizes deadlines by). Random-k picks at most every parameter, so at most
 * topKCount(paramFloats) values are sent; their index gaps (each minus one) sum to less than
 * paramFloats, so at most paramFloats / 128^k of them need a (k+1)-th varint byte.
 */
export function maxFrameBytesInRunFormat(paramFloats: number, compression: CompressionSettings): number {
  const values = topKCount(paramFloats, compression.topK);
  let indexBytes = 0;
  if (compression.topK < 1) {
    indexBytes = values;
    for (let k = 1; k < MAX_VARINT_BYTES; k++)
      indexBytes += Math.min(values, Math.floor(paramFloats / VARINT_RADIX ** k));
  }
  const { bits, blockSize } = compression;
  const scales = bits === 32 ? 0 : blockCount(values, blockSize);
  const words = packedWordCount(values, bits, blockSize);
  return TENSOR_FRAME_HEADER_BYTES + Math.ceil(indexBytes / 4) * 4 + 4 * (scales + words);
}
