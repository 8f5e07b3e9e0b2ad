// The hash tree over a committed state (protocol/state-tree.ts): every piece of every file
// verifies against the root with its proof; a changed byte, another piece, another index, a
// short or long piece, or a mangled proof is refused with a typed error and never throws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pieceAt, piecesIn, proofFor, stateTree, verifyPiece } from '../../../protocol/state-tree.ts';

const file = fc.uint8Array({ minLength: 0, maxLength: 700 });
const pieceSize = fc.integer({ min: 1, max: 64 });

describe('state tree', () => {
  it('verifies every piece of any file, and refuses any changed byte', async () => {
    await fc.assert(
      fc.asyncProperty(file, pieceSize, fc.nat(), async (bytes, pieceBytes, flip) => {
        const tree = await stateTree(bytes, pieceBytes);
        const shape = { root: tree.root, totalBytes: bytes.length, pieceBytes };
        expect(tree.pieceCount).toBe(piecesIn(bytes.length, pieceBytes));
        for (let i = 0; i < tree.pieceCount; i++) {
          const piece = pieceAt(bytes, i, pieceBytes);
          expect(await verifyPiece(shape, i, piece, proofFor(tree, i))).toEqual({ ok: true });
          if (piece.length === 0) continue;
          const changed = piece.slice();
          const at = flip % changed.length;
          changed[at] = (changed[at] as number) ^ 1;
          const verdict = await verifyPiece(shape, i, changed, proofFor(tree, i));
          expect(verdict.ok ? null : verdict.error.code).toBe('ERR_PIECE_HASH');
        }
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a piece under another index, a wrong size, and a proof that is not one', async () => {
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 31) % 251);
    const tree = await stateTree(bytes, 32);
    const shape = { root: tree.root, totalBytes: bytes.length, pieceBytes: 32 };
    const proof = proofFor(tree, 3);
    const code = async (index: number, piece: Uint8Array, p: unknown) => {
      const verdict = await verifyPiece(shape, index, piece, p);
      return verdict.ok ? 'ok' : verdict.error.code;
    };
    expect(await code(3, pieceAt(bytes, 3, 32), proof)).toBe('ok');
    // Piece 3's bytes and proof offered as piece 2, piece 2's bytes with piece 3's proof.
    expect(await code(2, pieceAt(bytes, 3, 32), proof)).toBe('ERR_PIECE_HASH');
    expect(await code(3, pieceAt(bytes, 2, 32), proof)).toBe('ERR_PIECE_HASH');
    expect(await code(10, pieceAt(bytes, 3, 32), proof)).toBe('ERR_PIECE_INDEX');
    expect(await code(-1, pieceAt(bytes, 3, 32), proof)).toBe('ERR_PIECE_INDEX');
    expect(await code(3, pieceAt(bytes, 3, 32).subarray(1), proof)).toBe('ERR_PIECE_SIZE');
    // The last piece is 300 − 9·32 = 12 bytes; a full-size one is refused.
    expect(await code(9, new Uint8Array(32), proofFor(tree, 9))).toBe('ERR_PIECE_SIZE');
    for (const bad of [
      null,
      'x',
      {},
      [...proof, null],
      proof.slice(1),
      proof.map(() => 'zz'),
      proof.map(() => 7),
    ])
      expect(await code(3, pieceAt(bytes, 3, 32), bad)).toBe('ERR_PIECE_PROOF');
  });

  it('gives no two piece lists one root (the odd node moves up, it is not paired with itself)', async () => {
    // Bitcoin's tree pairs an odd node with itself, so [a, b, c] and [a, b, c, c] share a root.
    const piece = (n: number) => new Uint8Array(8).fill(n);
    const three = await stateTree(new Uint8Array([...piece(1), ...piece(2), ...piece(3)]), 8);
    const four = await stateTree(new Uint8Array([...piece(1), ...piece(2), ...piece(3), ...piece(3)]), 8);
    expect(three.root).not.toBe(four.root);
    // A leaf never passes for a node: a one-piece file made of two child hashes has its own root.
    const two = await stateTree(new Uint8Array([...piece(1), ...piece(2)]), 8);
    const fake = new Uint8Array(64);
    fake.set(two.levels[0]?.[0] as Uint8Array, 0);
    fake.set(two.levels[0]?.[1] as Uint8Array, 32);
    expect((await stateTree(fake, 64)).root).not.toBe(two.root);
  });

  it('never throws on hostile input', async () => {
    const tree = await stateTree(new Uint8Array(100), 16);
    const shape = { root: tree.root, totalBytes: 100, pieceBytes: 16 };
    await fc.assert(
      fc.asyncProperty(
        fc.integer(),
        fc.uint8Array({ maxLength: 40 }),
        fc.anything(),
        async (index, piece, proof) => {
          const verdict = await verifyPiece(shape, index, piece, proof);
          expect(verdict.ok).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });
});
