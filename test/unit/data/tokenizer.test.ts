import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteTokenizer, tokenizerByName } from '../../../protocol/tokenizer.ts';

describe('byteTokenizer', () => {
  it('maps ASCII to its byte values', () => {
    expect([...byteTokenizer.encode('Hi!\n')]).toEqual([72, 105, 33, 10]);
    expect(byteTokenizer.vocabSize).toBe(256);
  });

  it('round-trips non-ASCII text through UTF-8 bytes', () => {
    const text = 'naïve café — 日本語, emoji 🍲, leading BOM \uFEFF';
    const tokens = byteTokenizer.encode(text);
    expect(tokens.length).toBe(new TextEncoder().encode(text).length);
    expect(byteTokenizer.decode(tokens)).toBe(text);
  });

  it('keeps a leading byte-order mark', () => {
    expect(byteTokenizer.decode(byteTokenizer.encode('\uFEFFx'))).toBe('\uFEFFx');
  });

  it('round-trips any well-formed string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(byteTokenizer.decode(byteTokenizer.encode(text))).toBe(text);
      }),
    );
  });

  it('decodes invalid UTF-8 and out-of-range ids to U+FFFD without throwing', () => {
    expect(byteTokenizer.decode([0x61, 0xff, 0x62])).toBe('a\uFFFDb');
    expect(byteTokenizer.decode([0xe6, 0x97])).toBe('\uFFFD'); // truncated 3-byte sequence
    expect(byteTokenizer.decode([0x61, 256, -1, 1.5, Number.NaN])).toBe('a\uFFFD\uFFFD\uFFFD\uFFFD');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -10, max: 300 })), (ids) => {
        expect(typeof byteTokenizer.decode(ids)).toBe('string');
      }),
    );
  });
});

describe('tokenizerByName', () => {
  it('finds the byte tokenizer', () => {
    const found = tokenizerByName('byte');
    expect(found.ok && found.tokenizer).toBe(byteTokenizer);
  });

  it('returns a typed error for unknown names, including Object.prototype keys', () => {
    for (const name of ['gpt2', 'toString', '__proto__', '']) {
      const found = tokenizerByName(name);
      expect(found.ok).toBe(false);
      if (!found.ok) expect(found.error.code).toBe('ERR_UNKNOWN_TOKENIZER');
    }
  });
});
