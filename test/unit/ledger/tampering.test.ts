// Database credentials alone cannot mint a credit that verifies. Each edit below is what an
// attacker holding the database (but not the relay's key) can do with SQL; each is caught by
// the relay's start-up check (Ledger.assertIntact, run by startRelay before it serves) and by
// the leaderboard's audit (web/src/leaderboard/chain-audit.ts) reading the relay's public API,
// on every backend.
import { Hono } from 'hono';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChainFailureCode } from '../../../protocol/ledger-chain.ts';
import { entryHash, GENESIS_HASH, type LedgerEntry } from '../../../protocol/ledger-entry.ts';
import { ledgerRoutes } from '../../../relay/http/ledger-routes.ts';
import { appendEntry } from '../../../relay/ledger/append-entry.ts';
import { Ledger } from '../../../relay/ledger/ledger.ts';
import { generateRelaySigner } from '../../../relay/ledger/relay-signer.ts';
import type { RelayRun } from '../../../relay/run/relay-run.ts';
import { auditChain } from '../../../web/src/leaderboard/chain-audit.ts';
import { PublicApi } from '../../../web/src/leaderboard/public-api.ts';
import { backends, type TestDatabase } from './backends.ts';
import { credit, modelHash, peerKey, roundInput, tickingClock } from './fixtures.ts';

const RUN = 'tamper-run';

/** The leaderboard's audit, run in node against the relay's routes (small pages, to page). */
async function browserAudit(ledger: Ledger) {
  const run = { id: RUN, ledger, relayKey: ledger.relayKey } as unknown as RelayRun;
  const app = new Hono().route('/api', ledgerRoutes(run));
  const api = new PublicApi(async (path) => (await app.request(path)).json());
  return auditChain({
    page: (a, l) => api.ledger(a, l),
    rounds: (a, l) => api.rounds(a, l),
    keys: () => api.keys(),
    pageSize: 2,
  });
}

describe.each(backends())('$name', (backend) => {
  let db: TestDatabase;
  let ledger: Ledger;

  /** Both auditors refuse the ledger with `reason` (at `height` when given). */
  async function expectCaught(reason: ChainFailureCode, height?: number) {
    const failure = { ok: false, reason, ...(height === undefined ? {} : { height }) };
    expect(await ledger.verifyChain()).toMatchObject(failure);
    expect(await browserAudit(ledger)).toMatchObject(failure);
    await expect(ledger.assertIntact()).rejects.toMatchObject({
      code: 'ERR_LEDGER_BROKEN',
      message: expect.stringContaining(reason),
    });
  }

  async function entries(): Promise<LedgerEntry[]> {
    return ledger.entriesAfter(0, 1000);
  }

  /** Appends a correctly hashed entry for `round` at the tip, crediting `tokens` to peer 9. */
  async function appendForged(round: number, tokens: number): Promise<void> {
    const tip = (await entries()).at(-1) ?? { height: 0, hash: GENESIS_HASH };
    // The relay's own INSERT: nothing in it needs the relay's key.
    await appendEntry(db.sql, tip, {
      kind: 'credit-verified',
      runId: RUN,
      round,
      peerKey: peerKey(9),
      tokens,
      flops: String(6n * 124_000_000n * BigInt(tokens)),
      modelHash: modelHash(round),
      reason: '',
      createdAt: '2025-01-02T00:00:00.000Z',
    });
  }

  /** Applies `edit` to every entry and re-hashes and re-links the whole chain, as an attacker would. */
  async function rewrite(edit: (e: LedgerEntry) => LedgerEntry): Promise<void> {
    let prevHash = GENESIS_HASH;
    for (const entry of await entries()) {
      const content = { ...edit(entry), prevHash };
      const hash = await entryHash(content);
      await db.sql.query(
        'update ledger_entries set prev_hash = $1, hash = $2, tokens = $3, round = $4, model_hash = $5 where height = $6',
        [prevHash, hash, content.tokens, content.round, content.modelHash, entry.height],
      );
      prevHash = hash;
    }
  }

  describe.skipIf(backend.unavailable)('tampering with SQL', () => {
    beforeEach(async () => {
      db = await backend.fresh();
      ledger = await Ledger.open(db.sql, await generateRelaySigner(), tickingClock());
      await ledger.ensureRun(RUN, { model: 'tiny' });
      await ledger.commitRound(roundInput(RUN, 0, [credit(0, 10), credit(1, 20, 'provisional')]));
      await ledger.commitRound(roundInput(RUN, 1, [credit(0, 30)]));
      await ledger.commitRound(roundInput(RUN, 2, [])); // a rolled-back round: signed, no entries
      await ledger.commitRound(roundInput(RUN, 3, [credit(1, 40), credit(2, 50)]));
      expect(await ledger.verifyChain()).toEqual({ ok: true, height: 5, hash: (await entries())[4]?.hash });
      expect(await browserAudit(ledger)).toMatchObject({ ok: true, height: 5, rounds: 4 });
      await ledger.assertIntact();
    });
    afterEach(() => db.dispose());
    afterAll(() => backend.shutdown());

    it('catches an entry appended to a signed round, with no head of its own', async () => {
      await appendForged(3, 1_000_000);
      await expectCaught('ERR_CHAIN_UNSIGNED', 6);
    });

    it('catches a new round with an entry and no head', async () => {
      await db.sql.query(
        `insert into rounds (run_id, round, model_hash, tokens, train_loss, shards, committed_at, members)
         values ($1, 4, $2, 5, null, '[]', now(), '[]')`,
        [RUN, modelHash(4)],
      );
      await appendForged(4, 5);
      await expectCaught('ERR_CHAIN_NO_HEAD', 6);
    });

    it('catches an edit with the chain re-hashed after it and the later heads deleted', async () => {
      await rewrite((e) => (e.height === 3 ? { ...e, tokens: e.tokens * 100 } : e));
      await db.sql.query('delete from ledger_heads where height >= 3');
      await expectCaught('ERR_CHAIN_NO_HEAD', 3);
      // Folding the later entries into round 0 and deleting the later rounds leaves them
      // above the only head left, round 0's at height 2.
      await rewrite((e) => (e.height >= 3 ? { ...e, round: 0, modelHash: modelHash(0) } : e));
      await db.sql.query('delete from rounds where round > 0');
      await expectCaught('ERR_CHAIN_UNSIGNED', 3);
    });

    it('catches an edit of a round’s loss, a name, GPU time or shards', async () => {
      const edits = [
        'update rounds set train_loss = 1.5 where round = 1',
        `update rounds set members = jsonb_set(members, '{0,name}', '"mallory"') where round = 0`,
        `update rounds set members = jsonb_set(members, '{0,busyMs}', '99999999') where round = 3`,
        `update rounds set shards = '[[0, 999999]]' where round = 1`,
      ];
      for (const edit of edits) {
        const [before] = await db.sql.query<{ members: unknown; shards: unknown; train_loss: number }>(
          'select members, shards, train_loss from rounds where round = $1',
          [Number(/round = (\d)/.exec(edit)?.[1])],
        );
        await db.sql.query(edit);
        await expectCaught('ERR_CHAIN_METADATA');
        await db.sql.query(
          'update rounds set members = $1::jsonb, shards = $2::jsonb, train_loss = $3 where round = $4',
          [
            JSON.stringify(before?.members),
            JSON.stringify(before?.shards),
            before?.train_loss,
            Number(/round = (\d)/.exec(edit)?.[1]),
          ],
        );
        expect((await ledger.verifyChain()).ok).toBe(true);
      }
    });

    it('catches a forged head row and a round whose head was deleted', async () => {
      const forged = `${'A'.repeat(85)}A`;
      await db.sql.query('update ledger_heads set signature = $1 where round = 2', [forged]);
      await expectCaught('ERR_CHAIN_HEAD', 3);
      await db.sql.query('delete from ledger_heads where round = 2');
      await expectCaught('ERR_CHAIN_NO_HEAD');
    });
  });
});
