// Signed quantization codes of 2, 3, 4 or 8 bits as the activation frame carries them
// (protocol/activation-frame.ts): one little-endian bit stream, code j in bits [j·b, j·b + b)
// of the words, least-significant bits first, in two's complement. For 2, 4 and 8 bits that is
// 32 / b whole codes per u32 word; a 3-bit code may straddle two words. Codes are grouped in
// blocks of `blockSize` values, a multiple of 32, so every block starts on a word (32 codes of
// b bits are b whole words) and the last one is padded with zero codes.
//
// Codes run from -L to L with L = 2^(b-1) - 1: symmetric, so a zero stays an exact zero. The
// one code left, -2^(b-1), is never written, and a reader refuses it, so that each tensor has
// one encoding (and 2 bits are the three levels -1, 0, 1).
import { blockCount } from './quantize.ts';

export type CodeBits = 2 | 3 | 4 | 8;
export const CODE_BITS: readonly CodeBits[] = [2, 3, 4, 8];

/** L: codes run from -L to L. */
export function codeLevels(bits: CodeBits): number {
  return 2 ** (bits - 1) - 1;
}

/** u32 words the codes of `values` values occupy, the last block padded whole. */
export function codeWordCount(values: number, bits: CodeBits, blockSize: number): number {
  return (blockCount(values, blockSize) * blockSize * bits) / 32;
}

/** Packs signed codes (each in [-L, L]) into the bit stream; blockSize only fixes the padding. */
export function packSignedCodes(codes: ArrayLike<number>, bits: CodeBits, blockSize: number): Uint32Array {
  const words = new Uint32Array(codeWordCount(codes.length, bits, blockSize));
  const mask = (1 << bits) - 1;
  for (let j = 0; j < codes.length; j++) {
    const code = (codes[j] as number) & mask;
    const at = j * bits;
    const word = at >>> 5;
    const shift = at & 31;
    words[word] = ((words[word] as number) | (code << shift)) >>> 0;
    // The bits that did not fit start the next word.
    if (shift + bits > 32) words[word + 1] = ((words[word + 1] as number) | (code >>> (32 - shift))) >>> 0;
  }
  return words;
}

/** Code `j` of the stream, as an unsigned `bits`-bit field. */
function rawCode(words: Uint32Array, bits: CodeBits, j: number): number {
  const at = j * bits;
  const word = at >>> 5;
  const shift = at & 31;
  let field = (words[word] as number) >>> shift;
  if (shift + bits > 32) field |= (words[word + 1] as number) << (32 - shift);
  return field & ((1 << bits) - 1);
}

/** Code `j` as a signed integer. */
export function signedCode(words: Uint32Array, bits: CodeBits, j: number): number {
  // Move the field to the top of a word, then shift back arithmetically to sign-extend it.
  return (rawCode(words, bits, j) << (32 - bits)) >> (32 - bits);
}

/**
 * Why `words` is not the one packing of `values` codes, or null when it is: no code is
 * -2^(bits-1), and every bit past the last code (the last block's padding) is zero. The caller
 * has checked that there are codeWordCount words.
 */
export function strayCode(words: Uint32Array, bits: CodeBits, values: number): string | null {
  const forbidden = 1 << (bits - 1);
  for (let j = 0; j < values; j++)
    if (rawCode(words, bits, j) === forbidden) return `code ${j} is -${forbidden}, outside [-L, L]`;
  const end = values * bits;
  const firstPadWord = end >>> 5;
  if ((end & 31) !== 0 && (words[firstPadWord] as number) >>> (end & 31) !== 0)
    return `padding bits after code ${values - 1} are set`;
  for (let w = (end & 31) !== 0 ? firstPadWord + 1 : firstPadWord; w < words.length; w++)
    if (words[w] !== 0) return `padding word ${w} is not zero`;
  return null;
}
