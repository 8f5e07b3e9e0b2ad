// State piece messages: what is encoded decodes, a piece passes its proof only against the
// root of the state it came from, and junk is refused with a typed error, never a throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeStatePiece,
  decodeStateRequest,
  encodeStatePiece,
  encodeStateRequest,
  MAX_PROOF_LEVELS,
  maxStatePieceMessageBytes,
} from '../../../protocol/state-piece-message.ts';
import { pieceAt, proofFor, statePieceBytes, stateTree, verifyPiece } from '../../../protocol/state-tree.ts';

const ROOT = 'ab'.repeat(32);

describe('state piece messages', () => {
  it('carry requests and pieces with their proofs, which verify against the root', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200_000 }), fc.nat(), async (file, pick) => {
        const tree = await stateTree(file);
        expect(tree.pieceBytes).toBe(statePieceBytes(file.length));
        const index = pick % tree.pieceCount;
        const request = decodeStateRequest(encodeStateRequest({ root: tree.root, index }));
        expect(request).toEqual({ ok: true, value: { root: tree.root, index } });
        const message = encodeStatePiece({
          root: tree.root,
          index,
          proof: proofFor(tree, index),
          bytes: pieceAt(file, index, tree.pieceBytes),
        });
        expect(message.length).toBeLessThanOrEqual(maxStatePieceMessageBytes());
        const decoded = decodeStatePiece(message);
        if (!decoded.ok) throw new Error(decoded.error.message);
        const shape = { root: tree.root, totalBytes: file.length, pieceBytes: tree.pieceBytes };
        expect(await verifyPiece(shape, index, decoded.value.bytes, decoded.value.proof)).toEqual({
          ok: true,
        });
        // The same bytes under another root, or as another piece, do not verify.
        expect(
          (await verifyPiece({ ...shape, root: ROOT }, index, decoded.value.bytes, decoded.value.proof)).ok,
        ).toBe(false);
      }),
      { numRuns: 30 },
    );
  });

  it('cuts a state into about 16 pieces of whole 4 KiB, and at most 256 KiB each', () => {
    expect(statePieceBytes(100)).toBe(4096);
    expect(statePieceBytes(180_000)).toBe(12_288); // 15 pieces of 12 KiB
    expect(statePieceBytes(6_679_680)).toBe(262_144);
  });

  it('refuses junk, truncation and malformed proofs with a typed error', () => {
    const good = encodeStatePiece({
      root: ROOT,
      index: 3,
      proof: [ROOT, null],
      bytes: Uint8Array.of(1, 2, 3),
    });
    expect(decodeStatePiece(good).ok).toBe(true);
    const variant = (at: number, value: number) => {
      const bytes = good.slice();
      bytes[at] = value;
      return decodeStatePiece(bytes);
    };
    expect(variant(4, 9)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_VERSION' } });
    expect(variant(5, MAX_PROOF_LEVELS + 1)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } });
    expect(variant(5, 200)).toMatchObject({ ok: false });
    expect(variant(44 + 33, 2)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } }); // flag 2
    expect(variant(44 + 33 + 5, 1)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } }); // null with bytes
    expect(decodeStatePiece(good.subarray(0, 50))).toMatchObject({
      ok: false,
      error: { code: 'ERR_FRAME_TRUNCATED' },
    });
    expect(decodeStateRequest(good)).toMatchObject({ ok: false });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        expect(() => decodeStatePiece(junk)).not.toThrow();
        expect(() => decodeStateRequest(junk)).not.toThrow();
      }),
    );
  });
});
