// The aggregate frame the relay sends back: it decodes to what the relay applied, its error
// feedback loses nothing over rounds, and bytes of another round, kind or format are refused
// with a typed error, never a throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAggregate, encodeAggregate } from '../../../protocol/aggregate-frame.ts';
import type { QuantBits } from '../../../protocol/quantize.ts';
import { keepMaxFor, randomKCandidates } from '../../../protocol/random-k.ts';

const COMPRESSION = { randomK: 0.7, topK: 1, bits: 1, blockSize: 64 } as const;
const spec = (bits: QuantBits, n = 1000, round = 3, seed = 77) => ({
  round,
  seed,
  totalFloats: n,
  compression: COMPRESSION,
  aggregateBits: bits,
});

function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 1e-2;
  });
}

describe('the aggregate frame', () => {
  it('carries the update exactly at 32 bits, on the round’s candidates only', () => {
    const update = values(1000, 1);
    const candidates = new Set(randomKCandidates(77, keepMaxFor(0.7), 0, 1000));
    for (let i = 0; i < 1000; i++) if (!candidates.has(i)) update[i] = 0; // as a robust aggregate is
    const { bytes, residual } = encodeAggregate(update, null, spec(32));
    const decoded = decodeAggregate(bytes, spec(32));
    if (!decoded.ok) throw new Error(decoded.error.message);
    const dense = new Float32Array(1000);
    decoded.value.indices.forEach((index, j) => {
      dense[index] = decoded.value.values[j] as number;
    });
    expect(dense).toEqual(update);
    expect(residual.every((r) => r === 0)).toBe(true);
  });

  it.each([1, 2, 4, 8] as const)('at %i bits, sent + residual is exactly what was to be sent', (bits) => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 1e6 }), (a, b) => {
        const update = values(500, a);
        const carried = values(500, b);
        const { bytes, residual } = encodeAggregate(update, carried, spec(bits, 500));
        const decoded = decodeAggregate(bytes, spec(bits, 500));
        if (!decoded.ok) return false;
        const sent = new Float32Array(500);
        decoded.value.indices.forEach((index, j) => {
          sent[index] = decoded.value.values[j] as number;
        });
        for (let i = 0; i < 500; i++) {
          const wanted = Math.fround((update[i] as number) + (carried[i] as number));
          if (Math.abs((sent[i] as number) + (residual[i] as number) - wanted) > 1e-9) return false;
        }
        return true;
      }),
      { numRuns: 20 },
    );
  });

  it('with error feedback, a constant update is delivered in full over the rounds', () => {
    const update = values(1000, 5);
    let residual: Float32Array | null = null;
    const total = new Float64Array(1000);
    const rounds = 40;
    for (let r = 0; r < rounds; r++) {
      // Each round its own candidates: what one round leaves out waits in the residual.
      const s = { ...spec(2, 1000, r, 1000 + r) };
      const encoded = encodeAggregate(update, residual, s);
      residual = encoded.residual;
      const decoded = decodeAggregate(encoded.bytes, s);
      if (!decoded.ok) throw new Error(decoded.error.message);
      decoded.value.indices.forEach((index, j) => {
        total[index] = (total[index] as number) + (decoded.value.values[j] as number);
      });
    }
    // Delivered = rounds × update − the last residual: the mean error shrinks as 1 / rounds.
    let error = 0;
    let scale = 0;
    for (let i = 0; i < 1000; i++) {
      error += Math.abs((total[i] as number) / rounds - (update[i] as number));
      scale += Math.abs(update[i] as number);
    }
    expect(error / scale).toBeLessThan(0.05);
  });

  it('refuses another round, another seed, a contribution frame and truncated bytes, never throwing', () => {
    const { bytes } = encodeAggregate(values(1000, 2), null, spec(2));
    expect(decodeAggregate(bytes, spec(2, 1000, 4))).toMatchObject({
      ok: false,
      error: { code: 'ERR_FRAME_FIELD' },
    });
    expect(decodeAggregate(bytes, spec(2, 1000, 3, 78))).toMatchObject({
      ok: false,
      error: { code: 'ERR_FRAME_FIELD' },
    });
    expect(decodeAggregate(bytes, spec(1))).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FORMAT' } });
    const contribution = bytes.slice();
    contribution[5] = 1; // the pseudo-gradient kind; the checksum then fails first
    expect(decodeAggregate(contribution, spec(2)).ok).toBe(false);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(bytes.length - 1), (junk, cut) => {
        expect(decodeAggregate(junk, spec(2)).ok).toBe(false);
        expect(decodeAggregate(bytes.subarray(0, cut), spec(2)).ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
