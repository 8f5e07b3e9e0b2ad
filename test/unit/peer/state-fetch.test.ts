// Fetching a committed state from peers in verified pieces (web/src/peer/state-fetch.ts): an
// honest peer's pieces are kept, a peer that lies, fails or hangs is dropped and its pieces go
// to others, the relay gives only what no peer could, and a lying relay fails the fetch.
import { describe, expect, it } from 'vitest';
import { pieceAt, proofFor, type StateTree, stateTree } from '../../../protocol/state-tree.ts';
import { fetchState, type PieceSource } from '../../../web/src/peer/state-fetch.ts';

const PIECE = 64;
const state = Uint8Array.from({ length: 64 * 20 + 17 }, (_, i) => (i * 131 + 7) % 256);

function honest(name: string, tree: StateTree): PieceSource & { asked: number[] } {
  const asked: number[] = [];
  return {
    name,
    asked,
    piece: async (index) => {
      asked.push(index);
      return { bytes: pieceAt(state, index, PIECE).slice(), proof: proofFor(tree, index) };
    },
  };
}

describe('state fetch from peers', () => {
  it('takes verified pieces from several peers, drops liars, failures and the silent, and spares the relay', async () => {
    const tree = await stateTree(state, PIECE);
    const shape = { root: tree.root, totalBytes: state.length, pieceBytes: PIECE };
    const a = honest('a', tree);
    const b = honest('b', tree);
    const liar: PieceSource = {
      name: 'liar',
      piece: async (index) => ({
        bytes: new Uint8Array(pieceAt(state, index, PIECE).length),
        proof: proofFor(tree, index),
      }),
    };
    const failing: PieceSource = {
      name: 'failing',
      piece: async () => Promise.reject(new Error('channel closed')),
    };
    const silent: PieceSource = { name: 'silent', piece: () => new Promise(() => {}) };
    const relay = honest('relay', tree);
    const progress: number[] = [];
    const report = await fetchState(shape, [a, liar, failing, silent, b], relay, {
      pieceTimeoutMs: 50,
      onProgress: (done) => progress.push(done),
    });
    expect(report.bytes).toEqual(state);
    expect([...report.dropped.keys()].sort()).toEqual(['failing', 'liar', 'silent']);
    expect(report.dropped.get('liar')).toMatch(/does not hash to the committed root/);
    expect(report.dropped.get('silent')).toMatch(/no answer in 50 ms/);
    expect((report.piecesFrom.get('a') ?? 0) + (report.piecesFrom.get('b') ?? 0)).toBe(tree.pieceCount);
    expect(relay.asked).toEqual([]);
    expect(progress.at(-1)).toBe(tree.pieceCount);
    // Both honest peers served: the download is spread, not one peer's.
    expect(report.piecesFrom.get('a')).toBeGreaterThan(0);
    expect(report.piecesFrom.get('b')).toBeGreaterThan(0);
  });

  it('falls back to the relay for what no peer gives, and fails when the relay lies too', async () => {
    const tree = await stateTree(state, PIECE);
    const shape = { root: tree.root, totalBytes: state.length, pieceBytes: PIECE };
    const liar: PieceSource = {
      name: 'liar',
      piece: async (index) => ({
        bytes: pieceAt(state, index, PIECE).map((x) => x ^ 1),
        proof: proofFor(tree, index),
      }),
    };
    const relay = honest('relay', tree);
    const report = await fetchState(shape, [liar], relay);
    expect(report.bytes).toEqual(state);
    expect(relay.asked.length).toBe(tree.pieceCount);
    await expect(fetchState(shape, [], { ...liar, name: 'relay' })).rejects.toMatchObject({
      code: 'ERR_STATE_FETCH',
    });
  });
});
