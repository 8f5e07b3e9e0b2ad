// CPU reference of kernels/wgsl/activation_quantize.wgsl, written for clarity: the same f32
// arithmetic in the same order, so tests can hold the GPU to it. It is also a working encoder
// for a peer without WebGPU. protocol/activation-frame.ts is the format.
//
// Activations are rounded to nearest (ties to even, which is what WGSL's round() does):
// - the error is at most s/2 rather than under s, and its mean square s²/12 rather than up
//   to s²/6: lower on every value, which is what the next stage's forward pass feels;
// - an activation is used once, and with a delta codec both caches hold the decoded value, so
//   each rounding error is folded into the next delta instead of building up;
// - it is deterministic: GPU and CPU agree without a shared seed.
// Activation-gradients may instead be rounded stochastically (the -sr codecs): q = ⌊d/s⌋ + 1
// with probability equal to the fraction of d/s, else ⌊d/s⌋, so E[q s] = d. At 4 bits and below
// a block's scale is set by its largest value, and rounding to nearest sends every value under
// s/2 to zero: in a block with an outlier most of the gradient vanishes, always towards zero,
// and the weight gradients summed over the tokens lose it with a common sign. Stochastic
// rounding keeps those values in expectation, for a variance of at most s²/4 each. Its noise is
// a hash of a seed per frame and the value's index, so it is deterministic too: the GPU rounds
// as this reference does, and a retry re-encodes to the same bytes (the benchmark's links derive
// the seed in protocol/activation-noise.ts).
import {
  type ActivationCodec,
  type ActivationPayload,
  activationScaleCount,
  codecBits,
  codecLevels,
  codecRounding,
  inverseLevels,
  isDeltaCodec,
} from '../../protocol/activation-frame.ts';
import { randomKHash, unitFromHash } from '../../protocol/random-k.ts';
import { packSignedCodes } from '../../protocol/signed-codes.ts';

/** Round half to even, as WGSL's round() (and IEEE 754's roundTiesToEven). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round sends every tie up; a tie whose upper neighbour is odd goes down instead.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * What is quantized: the values themselves, or for delta codecs their change against the
 * cached activation, f32(v - cached), one correctly rounded subtraction as on the GPU.
 */
export function quantizedInput(
  codec: ActivationCodec,
  values: Float32Array,
  cached?: Float32Array,
): Float32Array {
  if (!isDeltaCodec(codec)) return values;
  if (cached?.length !== values.length)
    throw new RangeError(`${codec}: needs a cached tensor of ${values.length} values`);
  return values.map((v, j) => Math.fround(v - (cached[j] as number)));
}

/**
 * The integer value j's t = f32(d / s) rounds to: to nearest, or for stochastic rounding
 * ⌊t⌋ + 1 when the noise u_j is below the fraction t − ⌊t⌋ (exact in f32), else ⌊t⌋.
 */
function roundedCode(t: number, j: number, roundingSeed: number | undefined): number {
  if (roundingSeed === undefined) return roundHalfEven(t);
  const low = Math.floor(t);
  return unitFromHash(randomKHash(roundingSeed, j)) < t - low ? low + 1 : low;
}

/**
 * Scales and signed codes of `values` (rows * width of them) for a quantized codec. The
 * stochastic codecs take the frame's `roundingSeed` (a u32), the others none.
 */
export function quantizeActivationsReference(
  values: Float32Array,
  codec: ActivationCodec,
  blockSize: number,
  cached?: Float32Array,
  roundingSeed?: number,
): { scales: Float32Array; codes: Int32Array } {
  if (codecBits(codec) === 32) throw new RangeError('fp32 is not quantized');
  if ((codecRounding(codec) === 'stochastic') !== (roundingSeed !== undefined))
    throw new RangeError(`${codec}: a rounding seed goes with the stochastic codecs, and only with them`);
  const d = quantizedInput(codec, values, cached);
  const levels = codecLevels(codec);
  const inverse = inverseLevels(codec);
  const scales = new Float32Array(activationScaleCount(codec, d.length, blockSize));
  const codes = new Int32Array(d.length);
  for (let b = 0; b < scales.length; b++) {
    const block = d.subarray(b * blockSize, (b + 1) * blockSize);
    const max = block.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    const s = Math.fround(max * inverse);
    scales[b] = s;
    // s = 0: an all-zero block (or one so small that max / L underflows), sent as zero codes.
    if (s === 0) continue;
    block.forEach((x, t) => {
      const j = b * blockSize + t;
      // f32(x / s) can land a hair above L when max * (1/L) rounded down: clamp.
      const q = roundedCode(Math.fround(x / s), j, roundingSeed);
      codes[j] = Math.min(levels, Math.max(-levels, q));
    });
  }
  return { scales, codes };
}

/** The payload of a frame: scales and packed two's-complement codes, or the raw f32 bits. */
export function encodeActivationsReference(
  values: Float32Array,
  codec: ActivationCodec,
  blockSize: number,
  cached?: Float32Array,
  roundingSeed?: number,
): ActivationPayload {
  const bits = codecBits(codec);
  if (bits === 32) return { scales: new Float32Array(0), words: new Uint32Array(values.slice().buffer) };
  const { scales, codes } = quantizeActivationsReference(values, codec, blockSize, cached, roundingSeed);
  return { scales, words: packSignedCodes(codes, bits, blockSize) };
}
