// Entry kinds on every backend: verified and provisional credit, settlements whose amounts the
// ledger sums inside the commit, bans, and what the leaderboard and standings make of them.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyReceipt } from '../../../protocol/ledger-signatures.ts';
import { Ledger } from '../../../relay/ledger/ledger.ts';
import { generateRelaySigner, type RelaySigner } from '../../../relay/ledger/relay-signer.ts';
import { backends, type TestDatabase } from './backends.ts';
import { credit, PARAMETERS, peerKey, roundInput, tickingClock } from './fixtures.ts';

const RUN = 'kinds-run';
const flops = (tokens: number) => (6n * PARAMETERS * BigInt(tokens)).toString();

describe.each(backends())('$name', (backend) => {
  let db: TestDatabase;
  let signer: RelaySigner;
  let ledger: Ledger;

  describe.skipIf(backend.unavailable)('entry kinds', () => {
    beforeEach(async () => {
      db = await backend.fresh();
      signer = await generateRelaySigner();
      ledger = await Ledger.open(db.sql, signer, tickingClock());
      await ledger.ensureRun(RUN, { model: 'tiny' });
    });
    afterEach(() => db.dispose());
    afterAll(() => backend.shutdown());

    it('settles provisional credit by the amount unsettled, bans, and ranks by verified credit', async () => {
      const first = await ledger.commitRound(
        roundInput(RUN, 0, [credit(0, 100, 'provisional'), credit(1, 30, 'verified')]),
      );
      expect(first.entries.map((e) => e.kind)).toEqual(['credit-provisional', 'credit-verified']);
      // A receipt for every credit, provisional too.
      expect(first.receipts.map((r) => r.entry.peerKey)).toEqual([peerKey(0), peerKey(1)]);
      for (const r of first.receipts) expect(await verifyReceipt(r, signer.publicKey)).toBe(true);
      await ledger.commitRound(roundInput(RUN, 1, [credit(0, 50, 'provisional')]));

      // Round 2 verifies peer 0's earlier work; its own credit this round stays provisional.
      const settled = await ledger.commitRound({
        ...roundInput(RUN, 2, [credit(0, 7, 'provisional')]),
        settlements: [{ peerKey: peerKey(0), outcome: 'verified', reason: 'spot check passed' }],
      });
      expect(settled.entries.map((e) => [e.kind, e.tokens, e.flops, e.reason])).toEqual([
        ['verify', 150, flops(150), 'spot check passed'],
        ['credit-provisional', 7, flops(7), ''],
      ]);
      expect(settled.receipts).toHaveLength(1);

      const forfeited = await ledger.commitRound({
        ...roundInput(RUN, 3, []),
        settlements: [{ peerKey: peerKey(0), outcome: 'forfeited', reason: 'replay disagreed' }],
        bans: [{ peerKey: peerKey(2), reason: 'equivocated' }],
      });
      expect(forfeited.entries.map((e) => [e.kind, e.tokens, e.flops, e.reason])).toEqual([
        ['forfeit', 7, flops(7), 'replay disagreed'],
        ['ban', 0, '0', 'equivocated'],
      ]);
      // Nothing left to settle: a second verify moves nothing.
      const again = await ledger.commitRound({
        ...roundInput(RUN, 4, [credit(1, 1, 'provisional')]),
        settlements: [{ peerKey: peerKey(0), outcome: 'verified', reason: '' }],
      });
      expect(again.entries[0]).toMatchObject({ kind: 'verify', tokens: 0, flops: '0' });

      const board = await ledger.leaderboard(RUN);
      expect(board.map((r) => [r.publicKey, r.verifiedFlops, r.provisionalFlops, r.banned])).toEqual([
        [peerKey(0), flops(150), '0', false],
        [peerKey(1), flops(30), flops(1), false],
        [peerKey(2), '0', '0', true],
      ]);
      expect(board[0]).toMatchObject({ tokens: 157, rounds: 3 });

      const standings = await ledger.standings(RUN);
      expect(standings.get(peerKey(0))).toEqual({ verifiedRounds: 2, banned: false });
      expect(standings.get(peerKey(1))).toEqual({ verifiedRounds: 1, banned: false });
      expect(standings.get(peerKey(2))).toEqual({ verifiedRounds: 0, banned: true });
      expect((await ledger.verifyChain()).ok).toBe(true);
    });

    it('refuses reasons with a separator or past the bound, and a peer twice in one list', async () => {
      const base = roundInput(RUN, 0, []);
      for (const input of [
        { ...base, bans: [{ peerKey: peerKey(0), reason: 'a|b' }] },
        { ...base, bans: [{ peerKey: peerKey(0), reason: 'x'.repeat(201) }] },
        { ...base, settlements: [{ peerKey: peerKey(0), outcome: 'verified' as const, reason: '\0' }] },
        {
          ...base,
          bans: [
            { peerKey: peerKey(0), reason: '' },
            { peerKey: peerKey(0), reason: '' },
          ],
        },
        { ...base, members: [{ peerKey: peerKey(0), name: 'bad\u202ename', busyMs: 1 }] },
        { ...base, members: [{ peerKey: peerKey(0), name: 'ok', busyMs: -1 }] },
      ]) {
        await expect(ledger.commitRound(input)).rejects.toMatchObject({ code: 'ERR_LEDGER_INPUT' });
      }
    });
  });
});
