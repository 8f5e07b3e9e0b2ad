// The identity stamp (protocol/identity-stamp.ts): the synchronous SHA-256 it stands on agrees
// with Node's, a stamp verifies exactly when its hash has the bits, a stamp is worth nothing
// for another key, run or difficulty, whatever a peer sends is refused with a code and never
// thrown, and minting costs ~2^bits hashes while checking costs one.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkStamp, leadingZeroBits, searchStamp, stampPrefix } from '../../../protocol/identity-stamp.ts';
import { sha256Sync } from '../../../protocol/sha256-sync.ts';
import { mintStamp } from '../../../web/src/peer/stamp-mint.ts';

const RUN = 'brown-gpt-0123abcd';
const KEY = 'Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE'; // 43 base64url characters, as keys are
const OTHER_KEY = 'cXV4YmF6YmFyZm9vcXV4YmF6YmFyZm9vcXV4YmF6YmE';

/** Leading zero bits of SHA-256(text), by Node's hash: the reference the checker must agree with. */
function referenceBits(text: string): number {
  const digest = createHash('sha256').update(text).digest();
  const words = new Uint32Array(8);
  for (let i = 0; i < 8; i++) words[i] = digest.readUInt32BE(i * 4);
  return leadingZeroBits(words);
}

describe('sha256Sync', () => {
  it('agrees with node:crypto on any input, across block boundaries', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(Buffer.from(sha256Sync(bytes)).toString('hex')).toBe(
          createHash('sha256').update(bytes).digest('hex'),
        );
      }),
    );
    for (const n of [0, 55, 56, 63, 64, 65, 119, 120, 128])
      expect(Buffer.from(sha256Sync(new Uint8Array(n).fill(0x61))).toString('hex')).toBe(
        createHash('sha256').update('a'.repeat(n)).digest('hex'),
      );
  });
});

describe('checkStamp', () => {
  it('accepts exactly the counters whose hash has the bits (any run, key, counter, difficulty)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9-]{1,60}$/),
        fc.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 8 }),
        (run, key, counter, bits) => {
          const strength = referenceBits(`${stampPrefix(run, key)}${counter}`);
          expect(checkStamp(run, key, String(counter), bits).ok).toBe(strength >= bits);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('takes a minted stamp, and refuses it for another key, another run or more bits', async () => {
    const stamp = await mintStamp(RUN, KEY, 12);
    expect(checkStamp(RUN, KEY, stamp, 12)).toEqual({ ok: true });
    expect(checkStamp(RUN, KEY, stamp, 0)).toEqual({ ok: true });
    // A stamp proves work for one key on one run; elsewhere it is as good as any counter.
    const elsewhere = [
      checkStamp(RUN, OTHER_KEY, stamp, 12),
      checkStamp('brown-gpt-ffffffff', KEY, stamp, 12),
      checkStamp(RUN, KEY, stamp, referenceBits(`${stampPrefix(RUN, KEY)}${stamp}`) + 1),
    ];
    for (const check of elsewhere) expect(check).toMatchObject({ ok: false, code: 'ERR_SWARM_STAMP_WEAK' });
  });

  it('refuses a missing or malformed stamp with its code', () => {
    for (const missing of [undefined, null, ''])
      expect(checkStamp(RUN, KEY, missing, 8)).toMatchObject({ ok: false, code: 'ERR_SWARM_STAMP_MISSING' });
    const malformed = ['-1', '01', '1.5', '1e9', ' 7', '7 ', 'abc', '0x10', '99999999999999999', 7, {}, []];
    for (const stamp of malformed)
      expect(checkStamp(RUN, KEY, stamp, 8)).toMatchObject({ ok: false, code: 'ERR_SWARM_STAMP_MALFORMED' });
  });

  it('never throws, whatever a peer sends as key, run or stamp', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.anything(),
        fc.integer({ min: 0, max: 32 }),
        (run, key, stamp, bits) => {
          const check = checkStamp(run, key, stamp, bits);
          expect(typeof check.ok).toBe('boolean');
        },
      ),
    );
  });
});

describe('cost', () => {
  // A volunteer pays 2^bits hashes once; N identities cost N × 2^bits; the relay pays one per hello.
  it('minting takes ~2^bits hashes', () => {
    const bits = 8;
    const keys = fc.sample(fc.stringMatching(/^[A-Za-z0-9_-]{43}$/), { numRuns: 64, seed: 7 });
    // The counter found is the number of hashes tried, less one.
    const tries = keys.map((key) => Number(searchStamp(RUN, key, bits, { from: 0, count: 1 << 20 })) + 1);
    const mean = tries.reduce((a, b) => a + b, 0) / tries.length;
    // Geometric with p = 2^-8: the mean of 64 draws is 256 ± 32 (one standard deviation).
    expect(mean).toBeGreaterThan(128);
    expect(mean).toBeLessThan(512);
  });

  it('checks a stamp in microseconds', () => {
    const started = performance.now();
    for (let i = 0; i < 2_000; i++) checkStamp(RUN, KEY, String(i), 22);
    const perCheckUs = ((performance.now() - started) / 2_000) * 1_000;
    console.log(`checkStamp: ${perCheckUs.toFixed(1)} µs per stamp`);
    expect(perCheckUs).toBeLessThan(200); // generous: a slow shared machine under load
  });
});
