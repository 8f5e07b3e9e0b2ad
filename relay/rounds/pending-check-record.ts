// The work checks the relay has asked for and not yet judged, kept in the database beside the
// ledger: a check lives in the memory of the relay that asked (it holds the checked frame), so
// when that relay stops (a restart, a SIGKILL, another relay of the cluster taking the run over)
// the check cannot be done any more. Its member's unsettled provisional credit must then not
// wait for a later check to verify it (a member cheating in the checked round would bank it
// after an honest one): the relay that opens the run next forfeits it, without a ban, since the
// member may have done nothing wrong (verification.ts).
import type { Sql } from '../ledger/sql.ts';
import type { Logger } from '../logger.ts';

export interface PendingCheckRecord {
  /** The relay asked `peer` for its starting state of `round`. */
  add(peer: string, round: number): void;
  /**
   * A settlement of `peer` is in the ledger: none of its checks is out any more (the relay holds
   * a member's settlement back while one is, verification.ts `unrecorded`).
   */
  settled(peer: string): void;
  /** Checks asked for by a relay that stopped before judging them; they are forgotten here. */
  takeLost(): Promise<{ readonly peer: string; readonly round: number }[]>;
}

export async function openPendingCheckRecord(
  sql: Sql,
  runId: string,
  log: Logger,
): Promise<PendingCheckRecord> {
  await sql.query(`create table if not exists pending_checks (
    run_id text not null,
    peer text not null,
    round bigint not null,
    primary key (run_id, peer, round)
  )`);
  // One write after another, so a removal never overtakes its own addition.
  let writes: Promise<unknown> = Promise.resolve();
  const write = (text: string, params: unknown[]) => {
    writes = writes
      .then(() => sql.query(text, params))
      .catch((error: unknown) => log.error({ err: error }, 'could not record a pending check'));
  };
  return {
    add(peer, round) {
      write('insert into pending_checks (run_id, peer, round) values ($1, $2, $3) on conflict do nothing', [
        runId,
        peer,
        round,
      ]);
    },
    settled(peer) {
      write('delete from pending_checks where run_id = $1 and peer = $2', [runId, peer]);
    },
    async takeLost() {
      await writes;
      const rows = await sql.query<{ peer: string; round: string }>(
        'delete from pending_checks where run_id = $1 returning peer, round',
        [runId],
      );
      return rows.map((r) => ({ peer: r.peer, round: Number(r.round) }));
    },
  };
}
