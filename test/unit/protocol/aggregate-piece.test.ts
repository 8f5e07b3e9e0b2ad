// Aggregate pieces: the ranges cover the aggregate exactly once, the owners of a group cover
// every piece exactly once, and the mesh message decodes what was encoded and refuses
// anything else with a typed error, never a throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeAggregatePiece,
  encodeAggregatePiece,
  MAX_AGGREGATE_PIECES,
  ownedPieces,
  pieceRange,
} from '../../../protocol/aggregate-piece.ts';

describe('aggregate pieces', () => {
  it('cut the aggregate into contiguous ranges that cover it once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1e6 }),
        fc.integer({ min: 1, max: MAX_AGGREGATE_PIECES }),
        (total, count) => {
          let next = 0;
          for (let p = 0; p < count; p++) {
            const { start, end } = pieceRange(total, count, p);
            expect(start).toBe(next);
            expect(end).toBeGreaterThanOrEqual(start);
            next = end;
          }
          expect(next).toBe(total);
        },
      ),
    );
  });

  it('give every piece exactly one owner in a group of any size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 64 }), (count, groupSize) => {
        const owners = new Array(count).fill(0);
        for (let position = 0; position < groupSize; position++)
          for (const p of ownedPieces(count, groupSize, position)) owners[p]++;
        expect(owners.every((n) => n === 1)).toBe(true);
      }),
    );
  });

  it('travel as a mesh message that decodes to what was sent and refuses the rest', () => {
    fc.assert(
      fc.property(
        fc.nat(0xffffffff),
        fc
          .integer({ min: 1, max: MAX_AGGREGATE_PIECES })
          .chain((count) => fc.tuple(fc.constant(count), fc.nat(count - 1))),
        fc.uint8Array({ maxLength: 300 }),
        (round, [count, index], bytes) => {
          const decoded = decodeAggregatePiece(encodeAggregatePiece({ round, index, count, bytes }));
          expect(decoded).toEqual({ ok: true, value: { round, index, count, bytes } });
        },
      ),
    );
    const good = encodeAggregatePiece({ round: 1, index: 0, count: 2, bytes: Uint8Array.of(9) });
    const variant = (at: number, value: number) => {
      const bytes = good.slice();
      bytes[at] = value;
      return decodeAggregatePiece(bytes);
    };
    expect(variant(4, 2)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_VERSION' } });
    expect(variant(6, 1)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } });
    expect(variant(12, 2)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } }); // index ≥ count
    expect(variant(14, 0)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } }); // no pieces
    expect(variant(14, 65)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } });
    expect(decodeAggregatePiece(good.subarray(0, 10))).toMatchObject({
      ok: false,
      error: { code: 'ERR_FRAME_TRUNCATED' },
    });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
        expect(() => decodeAggregatePiece(junk)).not.toThrow();
      }),
    );
  });
});
