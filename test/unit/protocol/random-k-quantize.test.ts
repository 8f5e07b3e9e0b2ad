// The pure pieces under compression: the random-k candidate choice, the quantization format,
// varints and CRC-32.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../../protocol/crc32.ts';
import {
  dequantize,
  dequantizeCode,
  levelsFor,
  packCodes,
  QUANT_BITS,
  quantStep,
  unpackCode,
} from '../../../protocol/quantize.ts';
import {
  countCandidates,
  isCandidate,
  KEEP_ALL,
  keepMaxFor,
  randomKCandidates,
} from '../../../protocol/random-k.ts';
import { readVarint, varintLength, writeVarint } from '../../../protocol/varint.ts';

describe('random-k', () => {
  it('keeps everything at fraction 1 and about the fraction otherwise', () => {
    expect(keepMaxFor(1)).toBe(KEEP_ALL);
    expect(countCandidates(5, KEEP_ALL, 10, 1000)).toBe(1000);
    for (const fraction of [0.5, 0.1, 0.01]) {
      const kept = countCandidates(42, keepMaxFor(fraction), 0, 100_000);
      expect(Math.abs(kept / 100_000 - fraction)).toBeLessThan(fraction * 0.1 + 0.002);
    }
  });

  it('lists exactly the indices isCandidate accepts, for any range', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffffffff }),
        fc.constantFrom(0.3, 0.05, 1),
        fc.nat({ max: 2 ** 31 }),
        fc.nat({ max: 2000 }),
        (seed, fraction, offset, count) => {
          const keepMax = keepMaxFor(fraction);
          const expected = [];
          for (let i = offset; i < offset + count; i++) if (isCandidate(seed, keepMax, i)) expected.push(i);
          expect(Array.from(randomKCandidates(seed, keepMax, offset, count))).toEqual(expected);
          expect(countCandidates(seed, keepMax, offset, count)).toBe(expected.length);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('depends on the seed', () => {
    const a = randomKCandidates(1, keepMaxFor(0.1), 0, 10_000);
    const b = randomKCandidates(2, keepMaxFor(0.1), 0, 10_000);
    expect(a).not.toEqual(b);
    expect(randomKCandidates(1, keepMaxFor(0.1), 0, 10_000)).toEqual(a);
  });
});

describe('quantization format', () => {
  it('packs and unpacks codes of every width', () => {
    fc.assert(
      fc.property(fc.constantFrom(...QUANT_BITS), fc.array(fc.nat(), { maxLength: 300 }), (bits, raw) => {
        const codes = raw.map((c) => (bits === 32 ? c >>> 0 : c % 2 ** bits));
        const words = packCodes(codes, bits, 64);
        for (const [j, c] of codes.entries()) expect(unpackCode(words, bits, j)).toBe(c);
      }),
    );
  });

  it('spans -s to +s, and the nearest lower code is within one step', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4, 8),
        fc.float({ min: Math.fround(1e-6), max: 1e6, noNaN: true }),
        fc.double({ min: -1, max: 1, noNaN: true }),
        (bits, scale, unit) => {
          const L = levelsFor(bits);
          expect(dequantizeCode(0, scale, bits)).toBe(Math.fround(-scale));
          expect(Math.abs(dequantizeCode(L, scale, bits) - scale)).toBeLessThanOrEqual(scale * 1e-6);
          const v = Math.fround(unit * scale);
          const step = quantStep(scale, bits);
          const q = Math.min(L, Math.max(0, Math.floor((v + scale) / step)));
          expect(Math.abs(dequantizeCode(q, scale, bits) - v)).toBeLessThanOrEqual(step * (1 + 1e-5));
        },
      ),
    );
  });

  it('decodes blocks with their own scales', () => {
    const words = packCodes([0, 3, 1, 2, ...new Array(60).fill(0), 3], 2, 64);
    const values = dequantize(words, Float32Array.of(3, 6), 2, 64, 65);
    expect(Array.from(values.subarray(0, 4))).toEqual([-3, 3, -1, 1]);
    expect(values[64]).toBe(6);
  });
});

describe('varint and CRC-32', () => {
  it('round-trips every u32 and refuses overflow and truncation', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (value) => {
        const out = new Uint8Array(5);
        const end = writeVarint(out, 0, value);
        expect(end).toBe(varintLength(value));
        expect(readVarint(out, 0)).toEqual({ value, next: end });
        if (end > 1) expect(readVarint(out, 0, end - 1)).toBeNull();
      }),
    );
    expect(readVarint(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x1f), 0)).toBeNull();
    expect(readVarint(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01), 0)).toBeNull();
  });

  it('reads only the shortest encoding of a value', () => {
    // 0 in two bytes, 1 in three, 127 in two: overlong, each.
    expect(readVarint(Uint8Array.of(0x80, 0x00), 0)).toBeNull();
    expect(readVarint(Uint8Array.of(0x81, 0x80, 0x00), 0)).toBeNull();
    expect(readVarint(Uint8Array.of(0xff, 0x00), 0)).toBeNull();
    expect(readVarint(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x00), 0)).toBeNull();
    // Whatever bytes it accepts are exactly what writeVarint writes for that value.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 5 }), (bytes) => {
        const read = readVarint(bytes, 0);
        if (!read) return;
        const out = new Uint8Array(5);
        const end = writeVarint(out, 0, read.value);
        expect(out.subarray(0, end)).toEqual(bytes.subarray(0, read.next));
      }),
      { numRuns: 2000 },
    );
  });

  it('matches the standard check value', () => {
    // The CRC-32 check value of "123456789" (ITU-T V.42, zlib).
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const bytes = new TextEncoder().encode('potluck frames');
    expect(crc32(bytes.subarray(6), crc32(bytes.subarray(0, 6)))).toBe(crc32(bytes));
  });
});
