// Proven equivocations in PostgreSQL, for several relays serving one run: a relay that takes the
// run over excludes every author another relay proved, as a restarted single relay does from its
// file (relay/rounds/equivocation-log.ts). Each row keeps the two signed claims.
import type { Sql } from '../ledger/sql.ts';
import type { EquivocationRecord } from '../rounds/equivocation-log.ts';
import type { EquivocationProof } from '../rounds/round-frames.ts';

export function pgEquivocations(sql: Sql, runId: string): EquivocationRecord {
  return {
    async authors() {
      const rows = await sql.query<{ author: string }>('select author from equivocations where run_id = $1', [
        runId,
      ]);
      return new Set(rows.map((r) => r.author));
    },
    async record(proof: EquivocationProof) {
      await sql.query(
        'insert into equivocations (run_id, author, proof) values ($1, $2, $3) on conflict do nothing',
        [runId, proof.author, JSON.stringify(proof)],
      );
    },
  };
}
