// What the relay reads back on every backend: the leaderboard's sums and order, the last
// round to resume from, the loss curve, the trained shards, and the audit stream page by page.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyChainSegment } from '../../../protocol/ledger-chain.ts';
import { GENESIS_HASH } from '../../../protocol/ledger-entry.ts';
import { Ledger } from '../../../relay/ledger/ledger.ts';
import { generateRelaySigner } from '../../../relay/ledger/relay-signer.ts';
import { backends, type TestDatabase } from './backends.ts';
import { credit, PARAMETERS, peerKey, roundInput, tickingClock } from './fixtures.ts';

describe.each(backends())('$name', (backend) => {
  let db: TestDatabase;
  let ledger: Ledger;

  describe.skipIf(backend.unavailable)('ledger queries', () => {
    beforeEach(async () => {
      db = await backend.fresh();
      ledger = await Ledger.open(db.sql, await generateRelaySigner(), tickingClock());
      await ledger.ensureRun('run-a', { model: 'a' });
      await ledger.ensureRun('run-b', { model: 'b' });
    });
    afterEach(() => db.dispose());
    afterAll(() => backend.shutdown());

    it('sums credits per peer, orders by FLOPs, and filters by run', async () => {
      await ledger.touchPeer(peerKey(0), 'ada', 1500);
      await ledger.touchPeer(peerKey(0), null, 500);
      await ledger.touchPeer(peerKey(1), 'grace');
      await ledger.commitRound(roundInput('run-a', 0, [credit(0, 100), credit(1, 300)]));
      await ledger.commitRound(roundInput('run-a', 1, [credit(0, 100), credit(2, 50)]));
      await ledger.commitRound(roundInput('run-b', 0, [credit(0, 1000)]));

      const all = await ledger.leaderboard();
      expect(all.map((row) => [row.publicKey, row.tokens, row.rounds])).toEqual([
        [peerKey(0), 1200, 3],
        [peerKey(1), 300, 1],
        [peerKey(2), 50, 1],
      ]);
      const [ada] = all;
      // Names and GPU time come from the signed round metadata, not from touchPeer's 'ada'.
      expect(ada).toMatchObject({
        name: 'peer-0',
        gpuMs: 12_000,
        verifiedFlops: (6n * PARAMETERS * 1200n).toString(),
        provisionalFlops: '0',
        banned: false,
      });
      expect(ada?.verifiedCredits).toBeCloseTo((6 * 124e6 * 1200) / 1e12, 12);
      expect(ada?.lastSeen).toMatch(/^2025-01-01T/);

      const runA = await ledger.leaderboard('run-a');
      expect(runA.map((row) => [row.name, row.tokens])).toEqual([
        ['peer-1', 300],
        ['peer-0', 200],
        ['peer-2', 50],
      ]);
      expect(await ledger.leaderboard('no-such-run')).toEqual([]);
      await expect(ledger.touchPeer('nope', 'x')).rejects.toMatchObject({ code: 'ERR_LEDGER_INPUT' });
      await expect(ledger.touchPeer(peerKey(0), 'x', -1)).rejects.toMatchObject({ code: 'ERR_LEDGER_INPUT' });
      await expect(ledger.ensureRun('no spaces', {})).rejects.toMatchObject({ code: 'ERR_LEDGER_INPUT' });
    });

    it('keeps FLOPs exact beyond 2^64', async () => {
      const huge = 2n ** 70n + 12345n;
      await ledger.commitRound({
        ...roundInput('run-a', 0, []),
        credits: [{ peerKey: peerKey(0), tokens: 1, flops: huge, status: 'verified' }],
      });
      await ledger.commitRound({
        ...roundInput('run-a', 1, []),
        credits: [{ peerKey: peerKey(0), tokens: 1, flops: huge, status: 'verified' }],
      });
      const [row] = await ledger.leaderboard();
      expect(row?.verifiedFlops).toBe((2n * huge).toString());
      expect((await ledger.entriesAfter(0, 1))[0]?.flops).toBe(huge.toString());
      expect((await ledger.verifyChain()).ok).toBe(true);
    });

    it('reports the last round, the loss curve and the trained shards', async () => {
      expect(await ledger.lastRound('run-a')).toBeNull();
      for (let round = 0; round < 3; round++) {
        await ledger.commitRound(roundInput('run-a', round, [credit(0, 10), credit(1, 20)]));
      }
      await ledger.commitRound({ ...roundInput('run-a', 3, [credit(0, 5)]), trainLoss: null });
      await ledger.commitRound(roundInput('run-b', 7, [credit(0, 5)]));

      expect(await ledger.lastRound('run-a')).toMatchObject({ round: 3, trainLoss: null, tokens: 5 });
      expect((await ledger.lastRound('run-b'))?.round).toBe(7);
      const curve = await ledger.rounds('run-a');
      expect(curve.map((r) => [r.round, r.trainLoss, r.tokens])).toEqual([
        [0, 4, 30],
        [1, 3.9, 30],
        [2, 3.8, 30],
        [3, null, 5],
      ]);
      expect(curve[0]?.committedAt).toMatch(/^2025-01-01T00:00:\d\d\.000Z$/);
      expect(await ledger.committedShards('run-a', 2)).toEqual([
        [2000, 2050],
        [2100, 2150],
        [3000, 3050],
      ]);
    });

    it('pages the audit stream in height order, each page chaining onto the last', async () => {
      for (let round = 0; round < 4; round++) {
        await ledger.commitRound(roundInput('run-a', round, [credit(0, 1), credit(1, 2), credit(2, 3)]));
      }
      let after = { height: 0, hash: GENESIS_HASH };
      const heights: number[] = [];
      for (;;) {
        const page = await ledger.entriesAfter(after.height, 5);
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(5);
        const check = await verifyChainSegment(page, after.hash, after.height);
        if (!check.ok) throw new Error(check.detail);
        heights.push(...page.map((e) => e.height));
        after = check;
      }
      expect(heights).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(await ledger.entriesAfter(10, 0)).toHaveLength(1);
      expect(await ledger.entriesAfter(12, 100)).toEqual([]);
      const head = await ledger.head();
      expect(head).toMatchObject({ height: 12, hash: after.hash, round: 3 });
    });
  });
});
