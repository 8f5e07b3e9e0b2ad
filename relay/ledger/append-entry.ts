// Appending one entry at the chain's tip, inside the commit's transaction: its height and
// prevHash come from the tip, its hash from its content (protocol/ledger-entry.ts).
import {
  entryHash,
  GENESIS_HASH,
  type LedgerEntry,
  type LedgerEntryContent,
} from '../../protocol/ledger-entry.ts';
import { idempotencyKey } from './commit-input.ts';
import type { Sql } from './sql.ts';

export interface ChainTip {
  readonly height: number;
  readonly hash: string;
}

/** The chain's last entry, or height 0 and GENESIS_HASH while it is empty; read under the table lock. */
export async function chainTip(tx: Sql): Promise<ChainTip> {
  const [top] = await tx.query<{ height: number | string; hash: string }>(
    'select height, hash from ledger_entries order by height desc limit 1',
  );
  return top ? { height: Number(top.height), hash: top.hash } : { height: 0, hash: GENESIS_HASH };
}

/** Writes the entry after `tip` and returns it; the new tip is its height and hash. */
export async function appendEntry(
  tx: Sql,
  tip: ChainTip,
  fields: Omit<LedgerEntryContent, 'height' | 'prevHash'>,
): Promise<LedgerEntry> {
  const content: LedgerEntryContent = { height: tip.height + 1, prevHash: tip.hash, ...fields };
  const entry: LedgerEntry = { ...content, hash: await entryHash(content) };
  await tx.query(
    `insert into ledger_entries
       (height, prev_hash, hash, kind, run_id, round, peer_key, tokens, flops, model_hash, reason,
        idempotency_key, created_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9::numeric, $10, $11, $12, $13)`,
    [
      entry.height,
      entry.prevHash,
      entry.hash,
      entry.kind,
      entry.runId,
      entry.round,
      entry.peerKey,
      entry.tokens,
      entry.flops,
      entry.modelHash,
      entry.reason,
      idempotencyKey(entry.runId, entry.round, entry.kind, entry.peerKey),
      entry.createdAt,
    ],
  );
  // Every peer an entry names appears on the leaderboard even if it never sent touchPeer; a
  // relay-key entry names the relay, which is no peer.
  if (entry.kind !== 'relay-key')
    await tx.query(
      `insert into peers (public_key, first_seen, last_seen) values ($1, $2, $2)
       on conflict (public_key) do nothing`,
      [entry.peerKey, entry.createdAt],
    );
  return entry;
}
