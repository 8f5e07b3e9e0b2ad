// Blockwise low-bit quantization of a list of values (the top-k survivors of a
// pseudo-gradient), as the wire carries it. The GPU encodes (kernels/wgsl/compress_quantize.wgsl),
// every peer decodes here, on the CPU, so that every peer reconstructs identical floats.
//
// A block holds `blockSize` consecutive values and one f32 scale s. With b bits there are
// L = 2^b - 1 steps between -s and +s:
//   step  = f32(f32(2 s) / L)
//   value = f32(f32(q * step) - s)      for the code q in [0, L]
// 1 bit is therefore ±s, 8 bits 255 steps. The encoder rounds (v + s) / step stochastically
// (up with probability equal to the fraction), so a value within [-s, s] decodes unbiased and
// off by less than one step; a value beyond goes to the nearer end. bits = 32 means no
// quantization: the words are the f32 values.
//
// The encoder's scale: s = max |v| for 2 bits and more, so nothing is clipped. For 1 bit it is
// the mean |v| (the scale of a sign code with the least error, as in EF-signSGD): with s =
// max |v| a typical value would decode to ±s, an error near s itself, and error feedback,
// which carries that error into the next round, would grow the next block's max, and so on,
// without bound (test/unit/compress/error-feedback-bounded.test.ts shows both). The decoder
// needs no change: the frame carries s.
//
// Codes are packed least-significant bits first, 32 / b codes per u32 word. Every block
// starts on a word (blockSize is a multiple of 32), and the last block is padded with zeros.

export type QuantBits = 1 | 2 | 4 | 8 | 32;
export const QUANT_BITS: readonly QuantBits[] = [1, 2, 4, 8, 32];

/** Smallest and largest values per block: a multiple of 32 so every block fills whole words. */
export const MIN_BLOCK_SIZE = 32;
export const MAX_BLOCK_SIZE = 4096;

export function isQuantBits(bits: number): bits is QuantBits {
  return (QUANT_BITS as readonly number[]).includes(bits);
}

export function isValidBlockSize(blockSize: number): boolean {
  return (
    Number.isInteger(blockSize) &&
    blockSize >= MIN_BLOCK_SIZE &&
    blockSize <= MAX_BLOCK_SIZE &&
    blockSize % 32 === 0
  );
}

/** Steps between -s and +s. */
export function levelsFor(bits: QuantBits): number {
  return 2 ** bits - 1;
}

/** The quantization step of a block with scale `scale`, exactly as encoder and decoder use it. */
export function quantStep(scale: number, bits: QuantBits): number {
  return Math.fround(Math.fround(2 * scale) / levelsFor(bits));
}

/** The value code `q` stands for in a block with scale `scale`. */
export function dequantizeCode(q: number, scale: number, bits: QuantBits): number {
  return Math.fround(Math.fround(q * quantStep(scale, bits)) - scale);
}

export function blockCount(count: number, blockSize: number): number {
  return Math.ceil(count / blockSize);
}

/** u32 words the codes of `count` values occupy. */
export function packedWordCount(count: number, bits: QuantBits, blockSize: number): number {
  if (bits === 32) return count;
  return (blockCount(count, blockSize) * blockSize * bits) / 32;
}

/** Packs codes (each in [0, 2^bits)) into words; blockSize only fixes the padding. */
export function packCodes(codes: ArrayLike<number>, bits: QuantBits, blockSize: number): Uint32Array {
  const words = new Uint32Array(packedWordCount(codes.length, bits, blockSize));
  if (bits === 32) {
    words.set(codes as ArrayLike<number>);
    return words;
  }
  const perWord = 32 / bits;
  for (let j = 0; j < codes.length; j++) {
    const word = Math.floor(j / perWord);
    words[word] = ((words[word] as number) | ((codes[j] as number) << ((j % perWord) * bits))) >>> 0;
  }
  return words;
}

/**
 * Why `words` is not the one packing of its codes, or null when it is: every bit past the last
 * code (the last block's padding) is zero, and so is every code of a block whose scale is zero,
 * which decodes to zeros whatever its codes say (the GPU and the reference write zeros there).
 * For bits = 32 there is no packing. The caller has checked the lengths, as for dequantize.
 */
export function strayCodeBits(
  words: Uint32Array,
  scales: Float32Array,
  bits: QuantBits,
  blockSize: number,
  count: number,
): string | null {
  if (bits === 32) return null;
  const perWord = 32 / bits;
  const wordsPerBlock = blockSize / perWord;
  for (let b = 0; b < scales.length; b++) {
    if (scales[b] !== 0) continue;
    const end = Math.min(words.length, (b + 1) * wordsPerBlock);
    for (let w = b * wordsPerBlock; w < end; w++)
      if (words[w] !== 0) return `block ${b} has a zero scale but nonzero codes`;
  }
  const firstPadWord = Math.floor(count / perWord);
  const usedBits = (count % perWord) * bits;
  if (usedBits > 0 && (words[firstPadWord] as number) >>> usedBits !== 0)
    return `padding bits after value ${count - 1} are set`;
  for (let w = usedBits > 0 ? firstPadWord + 1 : firstPadWord; w < words.length; w++)
    if (words[w] !== 0) return `padding word ${w} is not zero`;
  return null;
}

/** The code of value `j`. */
export function unpackCode(words: Uint32Array, bits: QuantBits, j: number): number {
  if (bits === 32) return words[j] as number;
  const perWord = 32 / bits;
  const mask = (1 << bits) - 1;
  return ((words[Math.floor(j / perWord)] as number) >>> ((j % perWord) * bits)) & mask;
}

/**
 * Decodes `count` values. The caller has checked that `words` and `scales` have the lengths
 * packedWordCount and blockCount give (the frame decoder does, before calling this).
 */
export function dequantize(
  words: Uint32Array,
  scales: Float32Array,
  bits: QuantBits,
  blockSize: number,
  count: number,
): Float32Array {
  if (bits === 32) return new Float32Array(words.buffer, words.byteOffset, count).slice();
  const out = new Float32Array(count);
  const levels = levelsFor(bits);
  for (let b = 0; b * blockSize < count; b++) {
    const scale = scales[b] as number;
    const step = Math.fround(Math.fround(2 * scale) / levels);
    const end = Math.min(count, (b + 1) * blockSize);
    for (let j = b * blockSize; j < end; j++) {
      out[j] = Math.fround(Math.fround(unpackCode(words, bits, j) * step) - scale);
    }
  }
  return out;
}
