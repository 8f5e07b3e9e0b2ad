// How much a settlement moves: the peer's provisional credit in the run since its last
// settlement (verify or forfeit); and how much a ban voids: the verified credit the peer holds
// in the run. Read inside the commit's transaction, under its table lock, so the amount written
// is exactly what it moves; an auditor can recompute it from the chain alone.
import type { Sql } from './sql.ts';

export interface Amount {
  readonly tokens: number;
  /** Exact, as decimal text. */
  readonly flops: string;
}

export async function unsettledAmount(tx: Sql, runId: string, peerKey: string): Promise<Amount> {
  const [row] = await tx.query<{ tokens: string | number; flops: string }>(
    `select coalesce(sum(tokens), 0)::text as tokens, coalesce(sum(flops), 0)::text as flops
       from ledger_entries
      where run_id = $1 and peer_key = $2 and kind = 'credit-provisional'
        and height > coalesce((select max(height) from ledger_entries
                                where run_id = $1 and peer_key = $2 and kind in ('verify', 'forfeit')), 0)`,
    [runId, peerKey],
  );
  return { tokens: Number(row?.tokens ?? 0), flops: row?.flops ?? '0' };
}

/**
 * The peer's verified credit in the run, net of earlier bans: what a ban voids. A cheater caught
 * once loses what it banked by passing checks between the rounds it cheated in.
 */
export async function verifiedAmount(tx: Sql, runId: string, peerKey: string): Promise<Amount> {
  const [row] = await tx.query<{ tokens: string | number; flops: string }>(
    `select coalesce(sum(case when kind = 'ban' then -tokens else tokens end), 0)::text as tokens,
            coalesce(sum(case when kind = 'ban' then -flops else flops end), 0)::text as flops
       from ledger_entries
      where run_id = $1 and peer_key = $2 and kind in ('credit-verified', 'verify', 'ban')`,
    [runId, peerKey],
  );
  return { tokens: Number(row?.tokens ?? 0), flops: row?.flops ?? '0' };
}
