// base64url as keys and signatures cross the wire: every byte string round-trips, one text
// per byte string, and decoding anything at all answers bytes or null without throwing.
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64url, encodeBase64url } from '../../../protocol/base64url.ts';

describe('base64url', () => {
  it('round-trips any bytes and matches Node', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = encodeBase64url(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64url'));
        expect(decodeBase64url(text)).toEqual(new Uint8Array(bytes));
      }),
    );
  });

  it('never throws, and whatever it accepts it re-encodes to the same text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.anything()), (input) => {
        const bytes = decodeBase64url(input);
        if (bytes !== null) expect(encodeBase64url(bytes)).toBe(input);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses padding, foreign characters, impossible lengths and stray trailing bits', () => {
    for (const text of ['AA==', 'AA=', 'A', 'AAAAA', 'AB', 'AAB', 'A+B/', 'A B', 'Ä', 'AAA\n']) {
      expect(decodeBase64url(text)).toBeNull();
    }
    expect(decodeBase64url('')).toEqual(new Uint8Array(0));
    expect(decodeBase64url('AA')).toEqual(new Uint8Array([0]));
    expect(decodeBase64url('_-8')).toEqual(new Uint8Array([0xff, 0xef]));
  });
});
