// Signed codes as one bit stream: every width round-trips any codes in [-L, L], 2, 4 and 8 bits
// keep the whole-codes-per-word layout the frames have always had, 3-bit codes straddle words
// where they must, and the one packing of a tensor is the only one a reader accepts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packCodes } from '../../../protocol/quantize.ts';
import {
  CODE_BITS,
  type CodeBits,
  codeLevels,
  codeWordCount,
  packSignedCodes,
  signedCode,
  strayCode,
} from '../../../protocol/signed-codes.ts';

/** Codes in [-L, L] of one width, with a block size that fixes the padding. */
const codesArbitrary = fc
  .record({
    bits: fc.constantFrom(...CODE_BITS),
    blockSize: fc.constantFrom(32, 64, 128),
    length: fc.integer({ min: 1, max: 300 }),
  })
  .chain(({ bits, blockSize, length }) =>
    fc
      .array(fc.integer({ min: -codeLevels(bits), max: codeLevels(bits) }), {
        minLength: length,
        maxLength: length,
      })
      .map((codes) => ({ bits, blockSize, codes })),
  );

describe('signed codes', () => {
  it('round-trips every width, and the packing is the one a reader accepts', () => {
    fc.assert(
      fc.property(codesArbitrary, ({ bits, blockSize, codes }) => {
        const words = packSignedCodes(codes, bits, blockSize);
        expect(words.length).toBe(codeWordCount(codes.length, bits, blockSize));
        expect(Array.from(codes, (_, j) => signedCode(words, bits, j))).toEqual(codes);
        expect(strayCode(words, bits, codes.length)).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it('packs 2, 4 and 8 bits as whole codes per word, as the round frames do', () => {
    fc.assert(
      fc.property(
        codesArbitrary.filter(({ bits }) => bits !== 3),
        ({ bits, blockSize, codes }) => {
          const unsigned = codes.map((q) => q & ((1 << bits) - 1));
          expect(packSignedCodes(codes, bits, blockSize)).toEqual(
            packCodes(unsigned, bits as 2 | 4 | 8, blockSize),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('lets a 3-bit code straddle two words: 32 codes fill exactly three', () => {
    const codes = Array.from({ length: 32 }, (_, j) => (j % 7) - 3);
    const words = packSignedCodes(codes, 3, 32);
    expect(words.length).toBe(3);
    // Code 10 is bits 30 to 32: the low two end word 0, the high one starts word 1.
    const code10 = (((words[0] as number) >>> 30) | (((words[1] as number) & 1) << 2)) & 7;
    expect((code10 << 29) >> 29).toBe(codes[10]);
    expect(signedCode(words, 3, 10)).toBe(codes[10]);
    expect(signedCode(words, 3, 21)).toBe(codes[21]); // bits 63 to 65
  });

  it('names the code -2^(bits-1) and any set padding bit', () => {
    for (const bits of CODE_BITS) {
      const words = packSignedCodes([1, -1, 0], bits as CodeBits, 32);
      const forbidden = words.slice();
      forbidden[0] = ((forbidden[0] as number) & ~((1 << bits) - 1)) | (1 << (bits - 1));
      expect(strayCode(forbidden, bits, 3)).toMatch(/code 0/);
      const padded = words.slice();
      padded[0] = (padded[0] as number) | (1 << (3 * bits));
      expect(strayCode(padded, bits, 3)).toMatch(/padding/);
      const lastWord = words.slice();
      lastWord[lastWord.length - 1] = 1;
      expect(strayCode(lastWord, bits, 3)).toMatch(/padding/);
    }
  });
});
