// Whether a pseudo-gradient frame is in the run's format: the random-k fraction, the top-k
// count, the bits and the block size the run config names. A well-formed frame in another
// format (a dense fp32 frame in a 1-bit run, a denser or coarser one) carries more, or more
// precise, influence than the run lets any one peer have, so it is refused before it is summed.
import { type CompressionSettings, topKCount } from './compression-settings.ts';
import { type DecodeResult, refuse } from './frame-errors.ts';
import { keepMaxFor } from './random-k.ts';
import type { TensorFrame } from './tensor-frame.ts';

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
