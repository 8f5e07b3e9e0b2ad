// The public, auditable side of the ledger: the leaderboard, the append-only entry stream an
// auditor replays (`/api/ledger?after=HEIGHT`), and the relay key that signs heads and receipts.
// Each body is typed by its schema in protocol/ledger-api.ts, which the leaderboard parses it with.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import {
  type LeaderboardBody,
  type LedgerPageBody,
  MAX_LEDGER_PAGE,
  type RelayBody,
} from '../../protocol/ledger-api.ts';
import type { LedgerEntry } from '../../protocol/ledger-entry.ts';
import type { RelayRun } from '../run/relay-run.ts';

export function ledgerRoutes(run: RelayRun): Hono {
  const routes = new Hono();

  routes.get('/leaderboard', async (c) =>
    c.json({ runId: run.id, rows: await run.ledger.leaderboard(run.id) } satisfies LeaderboardBody),
  );

  routes.get('/ledger', async (c) => {
    const after = c.req.query('after') ?? '0';
    const asked = c.req.query('limit') ?? String(MAX_LEDGER_PAGE);
    // Any limit is a wish: a larger one gets the largest page (the body says which limit
    // applied), so an auditor's client need not know MAX_LEDGER_PAGE. Only what is no number
    // at all is a bad request.
    if (!/^\d{1,15}$/.test(after) || !/^\d+$/.test(asked))
      throw new HTTPException(400, { message: 'after and limit must be non-negative integers' });
    const limit = Math.min(MAX_LEDGER_PAGE, Math.max(1, Number(asked)));
    const entries: LedgerEntry[] = await run.ledger.entriesAfter(Number(after), limit);
    return c.json({
      relayKey: run.relayKey,
      limit,
      head: await run.ledger.head(),
      entries,
    } satisfies LedgerPageBody);
  });

  routes.get('/relay', (c) => c.json({ relayKey: run.relayKey, runId: run.id } satisfies RelayBody));

  return routes;
}
