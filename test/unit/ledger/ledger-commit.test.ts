// Committing rounds on every backend: entries chain and re-hash, a tampered row is caught
// at its height, a repeated commit writes nothing, concurrent commits never share a height,
// and the entry kinds: verified and provisional credit, settlements whose amounts the ledger
// sums inside the commit, and bans, with what the leaderboard and standings make of them.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entryHash, GENESIS_HASH } from '../../../protocol/ledger-entry.ts';
import { verifyHead, verifyReceipt } from '../../../protocol/ledger-signatures.ts';
import { Ledger } from '../../../relay/ledger/ledger.ts';
import { generateRelaySigner, type RelaySigner } from '../../../relay/ledger/relay-signer.ts';
import { migrate, SCHEMA_VERSION } from '../../../relay/ledger/schema.ts';
import { backends, type TestDatabase } from './backends.ts';
import { credit, PARAMETERS, peerKey, roundInput, tickingClock } from './fixtures.ts';

const RUN = 'brown-tiny';
const OTHER_RUN = 'brown-other';
const flops = (tokens: number) => (6n * PARAMETERS * BigInt(tokens)).toString();

describe.each(backends())('$name', (backend) => {
  let db: TestDatabase;
  let signer: RelaySigner;
  let ledger: Ledger;

  describe.skipIf(backend.unavailable)('ledger commits', () => {
    beforeEach(async () => {
      db = await backend.fresh();
      signer = await generateRelaySigner();
      ledger = await Ledger.open(db.sql, signer, tickingClock());
      await ledger.ensureRun(RUN, { model: 'tiny' });
    });
    afterEach(() => db.dispose());
    afterAll(() => backend.shutdown());

    it('chains entries, signs heads and receipts, and verifies end to end', async () => {
      const first = await ledger.commitRound(roundInput(RUN, 0, [credit(0, 100), credit(1, 200)]));
      const second = await ledger.commitRound(roundInput(RUN, 1, [credit(2, 300)]));
      const entries = [...first.entries, ...second.entries];
      expect(entries.map((e) => e.height)).toEqual([1, 2, 3]);
      expect(entries[0]?.prevHash).toBe(GENESIS_HASH);
      for (const [i, entry] of entries.entries()) {
        expect(await entryHash(entry)).toBe(entry.hash);
        if (i > 0) expect(entry.prevHash).toBe(entries[i - 1]?.hash);
      }
      expect(await ledger.entriesAfter(0, 10)).toEqual(entries);
      expect(first.head).toMatchObject({ height: 2, hash: entries[1]?.hash, runId: RUN, round: 0 });
      expect(await ledger.head()).toEqual(second.head);
      expect(await verifyHead(second.head, signer.publicKey)).toBe(true);
      for (const receipt of [...first.receipts, ...second.receipts]) {
        expect(await verifyReceipt(receipt, signer.publicKey)).toBe(true);
      }
      expect(first.entries[1]?.flops).toBe((6n * 124_000_000n * 200n).toString());
      expect(await ledger.verifyChain()).toEqual({ ok: true, height: 3, hash: entries[2]?.hash });
    });

    it('finds a tampered entry, a removed entry and a forged head at their heights', async () => {
      for (let round = 0; round < 3; round++) {
        await ledger.commitRound(roundInput(RUN, round, [credit(0, 10), credit(1, 20)]));
      }
      // Test-only raw SQL: the ledger code itself never updates or deletes these rows.
      await db.sql.query('update ledger_entries set tokens = tokens + 1 where height = 3');
      expect(await ledger.verifyChain()).toMatchObject({ ok: false, height: 3, reason: 'ERR_CHAIN_HASH' });
      await db.sql.query('update ledger_entries set tokens = tokens - 1 where height = 3');
      expect((await ledger.verifyChain()).ok).toBe(true);

      const [signed] = await db.sql.query<{ signature: string }>(
        'select signature from ledger_heads where height = 4',
      );
      await db.sql.query(`update ledger_heads set signature = $1 where height = 4`, [`${'A'.repeat(85)}A`]);
      expect(await ledger.verifyChain()).toMatchObject({ ok: false, height: 4, reason: 'ERR_CHAIN_HEAD' });
      await db.sql.query('update ledger_heads set signature = $1 where height = 4', [signed?.signature]);
      expect((await ledger.verifyChain()).ok).toBe(true);

      await db.sql.query('delete from ledger_entries where height = 2');
      expect(await ledger.verifyChain()).toMatchObject({ ok: false, height: 3, reason: 'ERR_CHAIN_HEIGHT' });
    });

    it('writes a repeated round once and hands back the first commit', async () => {
      const input = roundInput(RUN, 0, [credit(0, 100), credit(1, 200)]);
      const first = await ledger.commitRound(input);
      const again = await ledger.commitRound(input);
      expect(first.duplicate).toBe(false);
      expect(again.duplicate).toBe(true);
      expect(again.entries).toEqual(first.entries);
      expect(again.head).toEqual(first.head);
      expect(again.receipts).toEqual(first.receipts);
      const [count] = await db.sql.query<{ n: number }>('select count(*)::int as n from ledger_entries');
      expect(count?.n).toBe(2);
      await expect(ledger.commitRound({ ...input, modelHash: 'f'.repeat(64) })).rejects.toMatchObject({
        code: 'ERR_LEDGER_ROUND_CONFLICT',
      });
    });

    it('refuses unknown runs and malformed input, and records a round with no credits', async () => {
      await expect(ledger.commitRound(roundInput('other-run', 0, [credit(0, 1)]))).rejects.toMatchObject({
        code: 'ERR_LEDGER_UNKNOWN_RUN',
      });
      const bad = [
        roundInput('bad|run', 0, [credit(0, 1)]),
        { ...roundInput(RUN, 0, [credit(0, 1)]), modelHash: 'xyz' },
        roundInput(RUN, -1, [credit(0, 1)]),
        roundInput(RUN, 0, [credit(0, 1), credit(0, 2)]),
        roundInput(RUN, 0, [{ ...credit(0, 1), peerKey: 'short' }]),
        roundInput(RUN, 0, [{ ...credit(0, 1), flops: -1n }]),
        { ...roundInput(RUN, 0, []), shards: [[5, 5] as [number, number]] },
      ];
      for (const input of bad) {
        await expect(ledger.commitRound(input)).rejects.toMatchObject({ code: 'ERR_LEDGER_INPUT' });
      }
      const empty = await ledger.commitRound(roundInput(RUN, 0, []));
      // A round that credits nobody is signed too, at the tip: genesis here.
      expect(empty).toMatchObject({ entries: [], receipts: [], duplicate: false });
      expect(empty.head).toMatchObject({ height: 0, hash: GENESIS_HASH, round: 0 });
      expect(await verifyHead(empty.head, signer.publicKey)).toBe(true);
      expect((await ledger.lastRound(RUN))?.round).toBe(0);
      expect(await ledger.verifyChain()).toEqual({ ok: true, height: 0, hash: GENESIS_HASH });
    });

    it('never gives two concurrent commits one height, from one relay or two', async () => {
      const other = await Ledger.open(await db.connectAgain(), signer, tickingClock());
      const commits = [];
      for (let round = 0; round < 8; round++) {
        const relay = round % 2 === 0 ? ledger : other;
        commits.push(relay.commitRound(roundInput(RUN, round, [credit(0, 10), credit(1, 10)])));
        // The same round from the other relay at the same moment: exactly one writes it.
        if (round % 4 === 0) {
          const twin = relay === ledger ? other : ledger;
          commits.push(twin.commitRound(roundInput(RUN, round, [credit(0, 10), credit(1, 10)])));
        }
      }
      const results = await Promise.all(commits);
      expect(results.filter((r) => r.duplicate)).toHaveLength(2);
      const heights = results.filter((r) => !r.duplicate).flatMap((r) => r.entries.map((e) => e.height));
      expect(heights.sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      expect(await ledger.verifyChain()).toMatchObject({ ok: true, height: 16 });
    });

    it('migrates idempotently and refuses a newer schema', async () => {
      await migrate(db.sql);
      await migrate(db.sql);
      const rows = await db.sql.query<{ version: number }>(
        'select version from schema_version order by version',
      );
      expect(rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
      await db.sql.query('insert into schema_version (version) values ($1)', [SCHEMA_VERSION + 1]);
      await expect(migrate(db.sql)).rejects.toMatchObject({ code: 'ERR_LEDGER_SCHEMA' });
    });

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

    it('voids the verified credit of a banned identity: a ban carries the amount it voids', async () => {
      // An intermittent cheater: honest rounds verified by passed checks, then a cheat caught.
      await ledger.commitRound(
        roundInput(RUN, 0, [credit(0, 40, 'provisional'), credit(1, 20, 'provisional')]),
      );
      await ledger.commitRound({
        ...roundInput(RUN, 1, [credit(0, 40, 'provisional'), credit(1, 20, 'provisional')]),
        settlements: [
          { peerKey: peerKey(0), outcome: 'verified', reason: 'round 0 checked' },
          { peerKey: peerKey(1), outcome: 'verified', reason: 'round 0 checked' },
        ],
      });
      await ledger.ensureRun(OTHER_RUN, { model: 'tiny' });
      await ledger.commitRound(roundInput(OTHER_RUN, 0, [credit(0, 5, 'verified')]));
      const caught = await ledger.commitRound({
        ...roundInput(RUN, 2, []),
        settlements: [{ peerKey: peerKey(0), outcome: 'forfeited', reason: 'round 1: frames differ' }],
        bans: [{ peerKey: peerKey(0), reason: 'round 1: frames differ' }],
      });
      expect(caught.entries.map((e) => [e.kind, e.tokens, e.flops])).toEqual([
        ['forfeit', 40, flops(40)],
        ['ban', 40, flops(40)],
      ]);
      const board = await ledger.leaderboard(RUN);
      expect(board.map((r) => [r.publicKey, r.verifiedFlops, r.provisionalFlops, r.banned])).toEqual([
        [peerKey(1), flops(20), flops(20), false],
        [peerKey(0), '0', '0', true],
      ]);
      // The ban is the run's: credit verified in another run stands.
      expect((await ledger.leaderboard(OTHER_RUN))[0]).toMatchObject({
        verifiedFlops: flops(5),
        banned: false,
      });
      // A second ban has nothing left to void.
      const again = await ledger.commitRound({
        ...roundInput(RUN, 3, []),
        bans: [{ peerKey: peerKey(0), reason: 'again' }],
      });
      expect(again.entries.map((e) => [e.kind, e.tokens, e.flops])).toEqual([['ban', 0, '0']]);
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
