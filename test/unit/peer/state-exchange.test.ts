// Committed states between peers: holders answer requests for pieces of the state they hold,
// an asker fetches from several of them at once and gets the relay's exact file, a holder that
// alters its pieces is dropped (its pieces come from the others), and a holder serves any one
// asker a bounded number of pieces.
import { describe, expect, it } from 'vitest';
import { encodeStateRequest } from '../../../protocol/state-piece-message.ts';
import { stateTree } from '../../../protocol/state-tree.ts';
import { StateExchange } from '../../../web/src/peer/state-exchange.ts';
import { fetchState } from '../../../web/src/peer/state-fetch.ts';

type Wire = (from: string, to: string, message: Uint8Array) => void;

function peers(ids: readonly string[], wire: { deliver: Wire }) {
  const exchanges = new Map<string, StateExchange>();
  for (const id of ids)
    exchanges.set(
      id,
      new StateExchange({
        send: async (to, message) => {
          setTimeout(() => wire.deliver(id, to, message), 0);
        },
      }),
    );
  return exchanges;
}

const file = Uint8Array.from({ length: 150_000 }, (_, i) => (i * 7919) & 0xff);

describe('state exchange', () => {
  it('fetches the holders’ state from several at once, and drops one that alters its pieces', async () => {
    const sentBy = new Map<string, number>();
    const wire = {
      deliver: (from: string, to: string, message: Uint8Array) => {
        sentBy.set(from, (sentBy.get(from) ?? 0) + 1);
        // The liar flips the last byte of every piece it sends.
        const out =
          from === 'liar' && message.length > 100
            ? message.map((b, i) => (i === message.length - 1 ? b ^ 1 : b))
            : message;
        exchanges.get(to)?.offer(from, out);
      },
    };
    const exchanges = peers(['h1', 'h2', 'liar', 'joiner'], wire);
    for (const id of ['h1', 'h2', 'liar']) await exchanges.get(id)?.hold(file);
    const tree = await stateTree(file);
    const joiner = exchanges.get('joiner') as StateExchange;
    const relayPieces: number[] = [];
    const report = await fetchState(
      { root: tree.root, totalBytes: file.length, pieceBytes: tree.pieceBytes },
      ['h1', 'h2', 'liar'].map((id) => joiner.source(id, tree.root)),
      {
        name: 'relay',
        piece: async (index) => {
          relayPieces.push(index);
          throw new Error('the relay is not asked');
        },
      },
      { pieceTimeoutMs: 2_000 },
    );
    expect(report.bytes).toEqual(file);
    expect(relayPieces).toEqual([]);
    expect([...report.dropped.keys()]).toEqual(['liar']);
    expect((report.piecesFrom.get('h1') ?? 0) + (report.piecesFrom.get('h2') ?? 0)).toBe(tree.pieceCount);
    expect(report.piecesFrom.get('h1')).toBeGreaterThan(0);
    expect(report.piecesFrom.get('h2')).toBeGreaterThan(0);
  });

  it('answers requests for the state it holds, or will hold, within its budgets', async () => {
    const answers: { to: string; message: Uint8Array }[] = [];
    const holder = new StateExchange({
      send: async (to, message) => {
        answers.push({ to, message });
      },
    });
    const tree = await stateTree(file);
    // Asked before it holds the state (the relay names holders as it commits): answered on hold.
    holder.offer('early', encodeStateRequest({ root: tree.root, index: 1 }));
    holder.offer('early', encodeStateRequest({ root: 'cd'.repeat(32), index: 0 })); // never held
    expect(answers).toHaveLength(0);
    await holder.hold(file);
    expect(answers.map((a) => a.to)).toEqual(['early']);
    expect(holder.offer('x', encodeStateRequest({ root: tree.root, index: tree.pieceCount }))).toBe(true);
    expect(answers).toHaveLength(1);
    // One asker: each piece at most twice, one whole state in all.
    for (let i = 0; i < 10 * tree.pieceCount; i++)
      holder.offer('x', encodeStateRequest({ root: tree.root, index: i % tree.pieceCount }));
    expect(answers.filter((a) => a.to === 'x')).toHaveLength(tree.pieceCount);
    // Many askers: no more than 2 whole states' worth per held state.
    for (let asker = 0; asker < 50; asker++)
      for (let i = 0; i < tree.pieceCount; i++)
        holder.offer(`a${asker}`, encodeStateRequest({ root: tree.root, index: i }));
    expect(answers).toHaveLength(2 * tree.pieceCount);
    // A newly held state starts a new budget.
    await holder.hold(file);
    holder.offer('y', encodeStateRequest({ root: tree.root, index: 0 }));
    expect(answers).toHaveLength(2 * tree.pieceCount + 1);
    expect(holder.offer('x', Uint8Array.of(1, 2, 3))).toBe(false); // not a state message
  });
});
