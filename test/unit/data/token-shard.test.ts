import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DTYPE_OFFSET,
  decodeTokenShard,
  encodeTokenShard,
  HEADER_LENGTH_OFFSET,
  MAX_SHARD_TOKENS,
  RESERVED_OFFSET,
  readTokenShardHeader,
  TOKEN_COUNT_OFFSET,
  TOKEN_SHARD_HEADER_BYTES,
  TokenDtype,
  VERSION_OFFSET,
  VOCAB_SIZE_OFFSET,
} from '../../../protocol/token-shard.ts';

/** Decodes and returns the error code, failing the test if it decoded. */
function errorCode(bytes: Uint8Array): string {
  const result = decodeTokenShard(bytes);
  expect(result.ok).toBe(false);
  return result.ok ? 'decoded' : result.error.code;
}

function withU32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(offset, value, true);
  return copy;
}

const shardArb = fc
  .integer({ min: 1, max: 65536 })
  .chain((vocab) =>
    fc.tuple(fc.constant(vocab), fc.array(fc.integer({ min: 0, max: vocab - 1 }), { maxLength: 300 })),
  );

describe('token shard format', () => {
  it('has a 32-byte little-endian header starting with PLTK', () => {
    const bytes = encodeTokenShard([1, 2, 0x0304], 1000);
    expect(TOKEN_SHARD_HEADER_BYTES).toBe(32);
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('PLTK');
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(VERSION_OFFSET, true)).toBe(1);
    expect(view.getUint32(HEADER_LENGTH_OFFSET, true)).toBe(32);
    expect(view.getUint32(DTYPE_OFFSET, true)).toBe(TokenDtype.uint16);
    expect(view.getUint32(VOCAB_SIZE_OFFSET, true)).toBe(1000);
    expect(view.getBigUint64(TOKEN_COUNT_OFFSET, true)).toBe(3n);
    expect([...bytes.subarray(32)]).toEqual([1, 0, 2, 0, 4, 3]);
  });

  it('round-trips any tokens and vocabulary', () => {
    fc.assert(
      fc.property(shardArb, ([vocab, tokens]) => {
        const result = decodeTokenShard(encodeTokenShard(tokens, vocab));
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        expect([...result.shard.tokens]).toEqual(tokens);
        expect(result.shard.header).toMatchObject({ vocabSize: vocab, tokenCount: tokens.length, dtype: 1 });
      }),
    );
  });

  it('decodes a shard that sits at an odd offset inside a larger buffer', () => {
    const shard = encodeTokenShard([5, 6, 7], 8);
    const host = new Uint8Array(shard.length + 1);
    host.set(shard, 1);
    const result = decodeTokenShard(host.subarray(1));
    expect(result.ok && [...result.shard.tokens]).toEqual([5, 6, 7]);
  });

  it('reads the header alone from just the first bytes', () => {
    const head = encodeTokenShard([1, 2, 3, 4], 256).subarray(0, TOKEN_SHARD_HEADER_BYTES);
    const result = readTokenShardHeader(head);
    expect(result.ok && result.header).toEqual({
      version: 1,
      headerLength: 32,
      dtype: 1,
      vocabSize: 256,
      tokenCount: 4,
    });
  });

  it('refuses truncated input, header or payload', () => {
    const good = encodeTokenShard([1, 2, 3], 256);
    for (let n = 0; n < good.length; n++) expect(errorCode(good.subarray(0, n))).toBe('ERR_SHARD_TRUNCATED');
  });

  it('refuses trailing bytes', () => {
    const good = encodeTokenShard([1, 2, 3], 256);
    const longer = new Uint8Array(good.length + 2);
    longer.set(good);
    expect(errorCode(longer)).toBe('ERR_SHARD_TRAILING_BYTES');
  });

  it('refuses bad magic, version, header length, dtype and vocab', () => {
    const good = encodeTokenShard([1, 2, 3], 256);
    const badMagic = good.slice();
    badMagic[0] = 0x51;
    expect(errorCode(badMagic)).toBe('ERR_SHARD_BAD_MAGIC');
    expect(errorCode(withU32(good, VERSION_OFFSET, 2))).toBe('ERR_SHARD_BAD_VERSION');
    expect(errorCode(withU32(good, VERSION_OFFSET, 0))).toBe('ERR_SHARD_BAD_VERSION');
    expect(errorCode(withU32(good, HEADER_LENGTH_OFFSET, 8))).toBe('ERR_SHARD_BAD_HEADER');
    expect(errorCode(withU32(good, HEADER_LENGTH_OFFSET, 34))).toBe('ERR_SHARD_BAD_HEADER');
    expect(errorCode(withU32(good, HEADER_LENGTH_OFFSET, 0xffffffff))).toBe('ERR_SHARD_BAD_HEADER');
    expect(errorCode(withU32(good, RESERVED_OFFSET, 0xdeadbeef))).toBe('ERR_SHARD_BAD_HEADER');
    expect(errorCode(withU32(good, DTYPE_OFFSET, TokenDtype.uint32))).toBe('ERR_SHARD_BAD_DTYPE');
    expect(errorCode(withU32(good, DTYPE_OFFSET, 0))).toBe('ERR_SHARD_BAD_DTYPE');
    expect(errorCode(withU32(good, VOCAB_SIZE_OFFSET, 0))).toBe('ERR_SHARD_BAD_VOCAB');
    expect(errorCode(withU32(good, VOCAB_SIZE_OFFSET, 65537))).toBe('ERR_SHARD_BAD_VOCAB');
  });

  it('refuses tokens at or above the vocabulary size', () => {
    const bytes = withU32(encodeTokenShard([1, 2, 3], 256), VOCAB_SIZE_OFFSET, 3);
    expect(errorCode(bytes)).toBe('ERR_SHARD_TOKEN_OUT_OF_RANGE');
  });

  it('refuses a declared count above the cap before allocating', () => {
    // A 32-byte buffer that claims 2^27 + 1 tokens, then one that claims 2^64 - 1: both
    // are refused from the header alone. If the decoder allocated first, the second would
    // throw a RangeError instead of returning an error.
    const header = encodeTokenShard([], 256);
    const view = new DataView(header.buffer);
    view.setBigUint64(TOKEN_COUNT_OFFSET, BigInt(MAX_SHARD_TOKENS) + 1n, true);
    expect(errorCode(header)).toBe('ERR_SHARD_TOO_LARGE');
    view.setBigUint64(TOKEN_COUNT_OFFSET, 2n ** 64n - 1n, true);
    expect(errorCode(header)).toBe('ERR_SHARD_TOO_LARGE');
    const headerOnly = readTokenShardHeader(header);
    expect(headerOnly.ok || headerOnly.error.code).toBe('ERR_SHARD_TOO_LARGE');
  });

  it('refuses an in-cap count that the buffer does not hold', () => {
    const header = encodeTokenShard([], 256);
    new DataView(header.buffer).setBigUint64(TOKEN_COUNT_OFFSET, BigInt(MAX_SHARD_TOKENS), true);
    expect(errorCode(header)).toBe('ERR_SHARD_TRUNCATED');
  });

  it('never throws on random garbage', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(typeof decodeTokenShard(bytes).ok).toBe('boolean');
        expect(typeof readTokenShardHeader(bytes).ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on garbage behind a valid magic and version', () => {
    const prefix = encodeTokenShard([], 256).subarray(0, HEADER_LENGTH_OFFSET);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
        const bytes = new Uint8Array(prefix.length + tail.length);
        bytes.set(prefix);
        bytes.set(tail, prefix.length);
        expect(typeof decodeTokenShard(bytes).ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on bit flips of a valid shard, and decodes or refuses consistently', () => {
    fc.assert(
      fc.property(shardArb, fc.nat(), fc.integer({ min: 0, max: 7 }), ([vocab, tokens], at, bit) => {
        const bytes = encodeTokenShard(tokens, vocab);
        const index = at % bytes.length;
        bytes[index] = (bytes[index] as number) ^ (1 << bit);
        const result = decodeTokenShard(bytes);
        if (result.ok) {
          for (const id of result.shard.tokens) expect(id).toBeLessThan(result.shard.header.vocabSize);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('encoder refuses ids outside the vocabulary', () => {
    expect(() => encodeTokenShard([256], 256)).toThrow(RangeError);
    expect(() => encodeTokenShard([-1], 256)).toThrow(RangeError);
    expect(() => encodeTokenShard([0], 65537)).toThrow(RangeError);
  });
});
