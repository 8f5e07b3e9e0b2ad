// The public, auditable side of the ledger: the leaderboard, the append-only entry stream an
// auditor replays (`/api/ledger?after=HEIGHT`), every committed round with its metadata and
// signed head (`/api/ledger/rounds?after=SEQ`), the relay key that signs heads and receipts, and
// every rotation of that key (`/api/ledger/keys`), which says which key signed at which height.
// Each body is typed by its schema in protocol/ledger-api.ts, which the leaderboard parses it with.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import {
  type KeysBody,
  type LeaderboardBody,
  type LedgerPageBody,
  MAX_LEDGER_PAGE,
  type RelayBody,
  type RoundsPageBody,
} from '../../protocol/ledger-api.ts';
import type { LedgerEntry } from '../../protocol/ledger-entry.ts';
import type { RelayRun } from '../run/relay-run.ts';

export function ledgerRoutes(run: RelayRun): Hono {
  const routes = new Hono();

  routes.get('/leaderboard', async (c) =>
    c.json({ runId: run.id, rows: await run.ledger.leaderboard(run.id) } satisfies LeaderboardBody),
  );

  routes.get('/ledger', async (c) => {
    const { after, limit } = pageQuery(c.req.query('after'), c.req.query('limit'));
    const entries: LedgerEntry[] = await run.ledger.entriesAfter(after, limit);
    return c.json({
      relayKey: run.relayKey,
      limit,
      // Read after the entries: a commit landing between the two reads puts the head ahead
      // of them, never behind (protocol/ledger-audit.ts relies on it).
      head: await run.ledger.head(),
      entries,
    } satisfies LedgerPageBody);
  });

  routes.get('/ledger/rounds', async (c) => {
    const { after, limit } = pageQuery(c.req.query('after'), c.req.query('limit'));
    const rounds = await run.ledger.signedRounds(after, limit);
    return c.json({ relayKey: run.relayKey, limit, rounds } satisfies RoundsPageBody);
  });

  routes.get('/ledger/keys', async (c) =>
    c.json({ relayKey: run.relayKey, rotations: await run.ledger.rotations() } satisfies KeysBody),
  );

  routes.get('/relay', (c) => c.json({ relayKey: run.relayKey, runId: run.id } satisfies RelayBody));

  return routes;
}

/**
 * `after` and `limit` of a page. Any limit is a wish: a larger one gets the largest page (the
 * body says which limit applied), so an auditor's client need not know MAX_LEDGER_PAGE. Only
 * what is no number at all is a bad request.
 */
function pageQuery(after = '0', asked = String(MAX_LEDGER_PAGE)): { after: number; limit: number } {
  if (!/^\d{1,15}$/.test(after) || !/^\d+$/.test(asked))
    throw new HTTPException(400, { message: 'after and limit must be non-negative integers' });
  return { after: Number(after), limit: Math.min(MAX_LEDGER_PAGE, Math.max(1, Number(asked))) };
}
