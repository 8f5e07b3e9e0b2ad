// Rotating the relay's key (protocol/ledger-keys.ts) on every backend: heads and receipts from
// before and after a rotation verify, each against the key in force at its height, for the
// relay at start-up and for an auditor through the API; a rotation the outgoing key did not
// sign, one the incoming key did not sign, and a head the retired key signed after it all
// fail; a relay on a retired or foreign key is refused with its own message, and one still
// running on the old key commits nothing.
import { Hono } from 'hono';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyAt } from '../../../protocol/ledger-keys.ts';
import { type Receipt, verifyHead, verifyReceipt } from '../../../protocol/ledger-signatures.ts';
import { ledgerRoutes } from '../../../relay/http/ledger-routes.ts';
import { Ledger } from '../../../relay/ledger/ledger.ts';
import { generateRelaySigner, type RelaySigner } from '../../../relay/ledger/relay-signer.ts';
import { rotateKeyIn } from '../../../relay/ledger/rotate-key.ts';
import type { RelayRun } from '../../../relay/run/relay-run.ts';
import { auditChain } from '../../../web/src/leaderboard/chain-audit.ts';
import { PublicApi } from '../../../web/src/leaderboard/public-api.ts';
import { checkReceipt } from '../../../web/src/leaderboard/receipt-check.ts';
import { backends, type TestDatabase } from './backends.ts';
import { credit, peerKey, roundInput, tickingClock } from './fixtures.ts';

const RUN = 'rotation-run';

/** The leaderboard's tools, run in node against the relay's routes (pages of 2, to page). */
function publicApi(ledger: Ledger) {
  const run = { id: RUN, ledger, relayKey: ledger.relayKey } as unknown as RelayRun;
  const app = new Hono().route('/api', ledgerRoutes(run));
  return new PublicApi(async (path) => (await app.request(path)).json());
}

function browserAudit(ledger: Ledger, firstKey?: string) {
  const api = publicApi(ledger);
  return auditChain({
    page: (a, l) => api.ledger(a, l),
    rounds: (a, l) => api.rounds(a, l),
    keys: () => api.keys(),
    pageSize: 2,
    firstKey,
  });
}

/** Signs as `signer` while claiming to be `claimed`: what someone without `claimed`'s key can do. */
function impostor(claimed: RelaySigner, signer: RelaySigner): RelaySigner {
  return { publicKey: claimed.publicKey, sign: (bytes) => signer.sign(bytes) };
}

describe.each(backends())('$name', (backend) => {
  let db: TestDatabase;
  let oldKey: RelaySigner;
  let newKey: RelaySigner;
  let before: Ledger;
  let receiptsBefore: Receipt[];

  describe.skipIf(backend.unavailable)('key rotation', () => {
    beforeEach(async () => {
      db = await backend.fresh();
      [oldKey, newKey] = [await generateRelaySigner(), await generateRelaySigner()];
      before = await Ledger.open(db.sql, oldKey, tickingClock());
      await before.ensureRun(RUN, { model: 'tiny' });
      receiptsBefore = [
        ...(await before.commitRound(roundInput(RUN, 0, [credit(0, 10), credit(1, 20)]))).receipts,
        ...(await before.commitRound(roundInput(RUN, 1, [credit(2, 30)]))).receipts,
      ];
      await before.commitRound(roundInput(RUN, 2, [])); // a round with no entry: a head at height 3
    });
    afterEach(() => db.dispose());

    it('verifies heads and receipts from before and after, each by the key in force at its height', async () => {
      const rotation = await before.rotateKey(newKey);
      expect(rotation).toMatchObject({ height: 4, fromKey: oldKey.publicKey, toKey: newKey.publicKey });
      const after = await Ledger.open(db.sql, newKey, tickingClock());
      // Straight after the rotation the newest head is still the old key's, below the rotation.
      expect(await after.verifyChain()).toMatchObject({ ok: true, height: 4 });
      await after.assertIntact();

      const empty = await after.commitRound(roundInput(RUN, 3, [])); // names the rotation's entry
      const credited = await after.commitRound(roundInput(RUN, 4, [credit(0, 40), credit(3, 50)]));
      expect(empty.head).toMatchObject({ height: 4, hash: rotation?.hash });
      expect(await after.verifyChain()).toMatchObject({ ok: true, height: 6 });
      await after.assertIntact();
      const audit = await browserAudit(after);
      expect(audit).toMatchObject({ ok: true, height: 6, rounds: 5 });
      if (!audit.ok) return;
      expect(audit.keys).toEqual({
        first: oldKey.publicKey,
        changes: [{ height: 4, hash: rotation?.hash, key: newKey.publicKey }],
      });
      // An auditor who pinned the first key follows the rotation; one who pinned another does not.
      expect(await browserAudit(after, oldKey.publicKey)).toMatchObject({ ok: true });
      expect(await browserAudit(after, peerKey(7))).toMatchObject({ ok: false, reason: 'ERR_CHAIN_KEY' });

      for (const receipt of receiptsBefore) {
        expect(keyAt(audit.keys, receipt.entry.height)).toBe(oldKey.publicKey);
        expect(await verifyReceipt(receipt, oldKey.publicKey)).toBe(true);
      }
      for (const receipt of credited.receipts) {
        expect(receipt.relayKey).toBe(newKey.publicKey);
        expect(keyAt(audit.keys, receipt.entry.height)).toBe(newKey.publicKey);
      }
      // The leaderboard's receipt check through the API: old receipts stay good.
      const api = publicApi(after);
      for (const receipt of [...receiptsBefore, ...credited.receipts]) {
        const verdict = await checkReceipt(
          JSON.stringify(receipt),
          (a, l) => api.ledger(a, l),
          () => api.keys(),
        );
        expect(verdict.kind).toBe('verified');
      }
      // The relay key is no peer: not on the leaderboard, not in the standings.
      const board = await after.leaderboard();
      expect(board.map((row) => row.publicKey)).not.toContain(newKey.publicKey);
      expect([...(await after.standings(RUN)).keys()]).not.toContain(newKey.publicKey);
      expect(board.map((row) => row.publicKey).sort()).toEqual([0, 1, 2, 3].map(peerKey).sort());
    });

    it('refuses a relay on the retired key, or on a key the ledger never had, and the old relay commits nothing', async () => {
      await before.rotateKey(newKey);
      await expect(before.commitRound(roundInput(RUN, 3, [credit(0, 1)]))).rejects.toMatchObject({
        code: 'ERR_RELAY_KEY_RETIRED',
      });
      await expect(before.assertIntact()).rejects.toMatchObject({
        code: 'ERR_RELAY_KEY_RETIRED',
        message: expect.stringContaining(
          `was retired at height 4, when the ledger was handed to ${newKey.publicKey}`,
        ),
      });
      const stranger = await Ledger.open(db.sql, await generateRelaySigner());
      await expect(stranger.assertIntact()).rejects.toMatchObject({
        code: 'ERR_RELAY_KEY_MISMATCH',
        message: expect.stringContaining(
          "is not the ledger's (" +
            newKey.publicKey +
            '): copy relay-key.pkcs8 from the relay that made the ledger, or rotate',
        ),
      });
      // Nothing was written by the refused commit: the ledger still verifies for the new key.
      await (await Ledger.open(db.sql, newKey)).assertIntact();
    });

    it("refuses a key that is not the ledger's before any rotation, but not a ledger whose newest head was tampered with", async () => {
      const stranger = await Ledger.open(db.sql, await generateRelaySigner());
      await expect(stranger.assertIntact()).rejects.toMatchObject({
        code: 'ERR_RELAY_KEY_MISMATCH',
        message: expect.stringContaining(
          "is not the ledger's: copy relay-key.pkcs8 from the relay that made the ledger, or rotate",
        ),
      });
      // A head edited with SQL is the chain's failure, not the key's: the oldest head still verifies.
      await db.sql.query(`update ledger_heads set metadata_digest = $1 where round = 2`, ['0'.repeat(64)]);
      await expect(before.assertIntact()).rejects.toMatchObject({ code: 'ERR_LEDGER_BROKEN' });
    });

    it('refuses a rotation signed by the new key only', async () => {
      // Someone with the database and a key of their own claims the old key handed over to it.
      const forged = await db.sql.transaction((tx) =>
        rotateKeyIn(tx, impostor(oldKey, newKey), newKey, new Date()),
      );
      expect(forged).toMatchObject({ fromKey: oldKey.publicKey, toKey: newKey.publicKey });
      const taken = await Ledger.open(db.sql, newKey);
      expect(await taken.verifyChain()).toMatchObject({
        ok: false,
        reason: 'ERR_CHAIN_KEY',
        height: 4,
        detail: expect.stringContaining(`the outgoing key ${oldKey.publicKey} did not sign`),
      });
      expect(await browserAudit(taken)).toMatchObject({ ok: false, reason: 'ERR_CHAIN_KEY', height: 4 });
      await expect(taken.assertIntact()).rejects.toMatchObject({ code: 'ERR_LEDGER_BROKEN' });
    });

    it('refuses a rotation the incoming key did not sign', async () => {
      // The old key hands over to a key whose holder never agreed (nor can be shown to hold it).
      const unheld = await generateRelaySigner();
      await db.sql.transaction((tx) => rotateKeyIn(tx, oldKey, impostor(unheld, oldKey), new Date()));
      const check = await (await Ledger.open(db.sql, unheld)).verifyChain();
      expect(check).toMatchObject({
        ok: false,
        reason: 'ERR_CHAIN_KEY',
        detail: expect.stringContaining('the incoming key'),
      });
    });

    it('refuses a head signed by the retired key after the rotation', async () => {
      await before.rotateKey(newKey);
      // The old key's holder commits a round as if it were the new key's relay.
      const stale = await Ledger.open(db.sql, impostor(newKey, oldKey));
      const { head } = await stale.commitRound(roundInput(RUN, 3, [credit(0, 5)]));
      expect(await verifyHead(head, oldKey.publicKey)).toBe(true); // a good signature, by a retired key
      const after = await Ledger.open(db.sql, newKey);
      const failure = { ok: false, reason: 'ERR_CHAIN_HEAD', height: 5 };
      expect(await after.verifyChain()).toMatchObject(failure);
      expect(await browserAudit(after)).toMatchObject(failure);
    });

    it('refuses a rotation moved to another entry, or deleted, with SQL', async () => {
      const rotation = await before.rotateKey(newKey);
      const after = await Ledger.open(db.sql, newKey);
      await after.commitRound(roundInput(RUN, 3, [credit(0, 5)]));
      // Moved onto a credit entry: its signatures no longer cover the entry it sits beside.
      await db.sql.query('update relay_keys set height = 2 where height = $1', [rotation?.height]);
      const moved = { ok: false, reason: 'ERR_CHAIN_KEY', height: 2 };
      expect(await after.verifyChain()).toMatchObject(moved);
      expect(await browserAudit(after)).toMatchObject(moved);
      // Deleted: nothing says the key changed, so the old key's heads fail against the new one.
      await db.sql.query('delete from relay_keys');
      const deleted = { ok: false, reason: 'ERR_CHAIN_HEAD', height: 2 };
      expect(await after.verifyChain()).toMatchObject(deleted);
      expect(await browserAudit(after)).toMatchObject(deleted);
      await expect(after.assertIntact()).rejects.toMatchObject({ code: 'ERR_LEDGER_BROKEN' });
    });
  });

  afterAll(() => backend.shutdown());
});
