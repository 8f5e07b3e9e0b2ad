// CPU reference of kernels/wgsl/activation_quantize.wgsl, written for clarity: the same f32
// arithmetic in the same order, so tests can hold the GPU to it. It is also a working encoder
// for a peer without WebGPU. protocol/activation-frame.ts is the format.
//
// Rounding is to nearest (ties to even, which is what WGSL's round() does), not stochastic:
// - the error is at most s/2 rather than under s, and its mean square s²/12 rather than up
//   to s²/6: lower on every value, which is what the next stage's forward pass feels;
// - stochastic rounding buys unbiasedness, which matters where the same quantity is summed over
//   rounds (pseudo-gradients and their error feedback, protocol/quantize.ts). An activation is
//   used once; with a delta codec both caches hold the decoded value, so each rounding error is
//   folded into the next delta instead of building up; and an activation-gradient is summed over
//   thousands of tokens whose rounding errors carry no common sign;
// - it is deterministic: GPU and CPU agree without a shared seed, and re-encoding a microbatch
//   (a retry after a lost peer) gives the same bytes.
import {
  type ActivationCodec,
  type ActivationPayload,
  activationScaleCount,
  codecBits,
  codecLevels,
  isDeltaCodec,
} from '../../protocol/activation-frame.ts';
import { packCodes } from '../../protocol/quantize.ts';

/**
 * 1 / L as f32, exactly as the kernel holds it. The scale is max |d| times this (one correctly
 * rounded multiply, bit-equal on every GPU) rather than max |d| / L, since WGSL lets a division
 * be off by 2.5 ulp and the scales must match the reference exactly.
 */
export function inverseLevels(codec: ActivationCodec): number {
  return Math.fround(1 / codecLevels(codec));
}

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

/** Scales and signed codes of `values` (rows * width of them) for a quantized codec. */
export function quantizeActivationsReference(
  values: Float32Array,
  codec: ActivationCodec,
  blockSize: number,
  cached?: Float32Array,
): { scales: Float32Array; codes: Int32Array } {
  if (codecBits(codec) === 32) throw new RangeError('fp32 is not quantized');
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
      // f32(x / s) can land a hair above L when max * (1/L) rounded down: clamp.
      const q = roundHalfEven(Math.fround(x / s));
      codes[b * blockSize + t] = Math.min(levels, Math.max(-levels, q));
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
): ActivationPayload {
  const bits = codecBits(codec);
  if (bits === 32) return { scales: new Float32Array(0), words: new Uint32Array(values.slice().buffer) };
  const { scales, codes } = quantizeActivationsReference(values, codec, blockSize, cached);
  const mask = (1 << bits) - 1;
  return {
    scales,
    words: packCodes(
      Array.from(codes, (q) => q & mask),
      bits,
      blockSize,
    ),
  };
}
