// The relay auditing its own database end to end, as an outside auditor would through the
// API: every entry re-hashed and linked to the one before (protocol/ledger-chain.ts), then
// every published head checked against the relay's key and the entry it names. Reads page
// by page, so memory stays flat however long the chain grows.

import { MAX_LEDGER_PAGE } from '../../protocol/ledger-api.ts';
import { type ChainCheck, verifyChainSegment } from '../../protocol/ledger-chain.ts';
import { GENESIS_HASH } from '../../protocol/ledger-entry.ts';
import { verifyHead } from '../../protocol/ledger-signatures.ts';
import { ENTRY_COLUMNS, type EntryRow, type HeadRow, toEntry, toHead } from './rows.ts';
import type { Sql } from './sql.ts';

/** Rows read per query, the same page an outside auditor reads through the API. */
const PAGE = MAX_LEDGER_PAGE;

export async function verifyLedger(sql: Sql, relayPublicKey: string): Promise<ChainCheck> {
  let height = 0;
  let hash = GENESIS_HASH;
  for (;;) {
    const rows = await sql.query<EntryRow>(
      `select ${ENTRY_COLUMNS} from ledger_entries where height > $1 order by height limit ${PAGE}`,
      [height],
    );
    const check = await verifyChainSegment(rows.map(toEntry), hash, height);
    if (!check.ok) return check;
    ({ height, hash } = check);
    if (rows.length < PAGE) break;
  }
  // Heads above the tip just walked belong to commits that landed meanwhile: next time.
  const tip = height;
  let after = 0;
  for (;;) {
    const rows = await sql.query<
      HeadRow & { entry_hash: string | null; entry_run: string | null; entry_round: number | null }
    >(
      `select h.height, h.hash, h.run_id, h.round, h.signature,
              e.hash as entry_hash, e.run_id as entry_run, e.round as entry_round
         from ledger_heads h left join ledger_entries e on e.height = h.height
        where h.height > $1 and h.height <= $2 order by h.height limit ${PAGE}`,
      [after, tip],
    );
    for (const row of rows) {
      const head = toHead(row);
      if (!(await verifyHead(head, relayPublicKey))) {
        return {
          ok: false,
          height: head.height,
          reason: 'ERR_CHAIN_HEAD',
          detail: 'head signature does not verify',
        };
      }
      // The entry's own hash was recomputed above, so matching it ties the head to content.
      if (row.entry_hash !== head.hash || row.entry_run !== head.runId || row.entry_round !== head.round) {
        return {
          ok: false,
          height: head.height,
          reason: 'ERR_CHAIN_HEAD',
          detail: 'head names no such entry',
        };
      }
      after = head.height;
    }
    if (rows.length < PAGE) break;
  }
  return { ok: true, height, hash };
}
