// The round an operator started a run's cooldown at (a wsd or infinite schedule, protocol/
// learning-rate.ts), kept in the database beside the ledger: every round's rate after it depends
// on it, so a restarted relay, or another relay of the cluster taking the run over, must read
// the same round. One row per run, written once: a second start is refused, never moved.
// Operator state, not a ledger entry: the rate every volunteer trained at is in its assignment,
// and the run's config names the schedule.
import type { Sql } from '../ledger/sql.ts';

export interface CooldownRecord {
  /** The round the run's cooldown was started at, or null if nobody started it. */
  read(): Promise<number | null>;
  /**
   * Records that the cooldown begins at `round`, unless a round is recorded already: `round`
   * is what holds now, `recorded` whether it is this call's.
   */
  start(round: number): Promise<{ readonly round: number; readonly recorded: boolean }>;
}

export async function openCooldownRecord(sql: Sql, runId: string): Promise<CooldownRecord> {
  await sql.query(`create table if not exists lr_cooldowns (
    run_id text primary key,
    round bigint not null,
    started_at timestamptz not null
  )`);
  const read = async () => {
    const [row] = await sql.query<{ round: string }>('select round from lr_cooldowns where run_id = $1', [
      runId,
    ]);
    return row ? Number(row.round) : null;
  };
  return {
    read,
    async start(round) {
      const [inserted] = await sql.query<{ round: string }>(
        `insert into lr_cooldowns (run_id, round, started_at) values ($1, $2, now())
         on conflict (run_id) do nothing returning round`,
        [runId, round],
      );
      if (inserted) return { round: Number(inserted.round), recorded: true };
      return { round: (await read()) ?? round, recorded: false };
    },
  };
}
