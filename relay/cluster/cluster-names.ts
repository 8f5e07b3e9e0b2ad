// Display names are the run's, not one relay's: with several relays, the first identity to use a
// name (in normalized form, protocol/display-name.ts) holds it on every relay, so nobody can take
// a live volunteer's name on another relay and have it refused there when its own relay dies
// (an outside attack did). One row per name in PostgreSQL; the insert that loses the race reads
// the winner. An identity holds one name: taking another lets its last one go, so a single cheap
// identity cannot reserve names by the dozen (an outside attack held 12 this way).
import { normalizeName } from '../../protocol/display-name.ts';
import type { Sql } from '../ledger/sql.ts';

export async function openClusterNames(
  sql: Sql,
  runId: string,
  known: readonly { readonly peerId: string; readonly name: string | null }[],
): Promise<(peerId: string, name: string) => Promise<string>> {
  await sql.query(`create table if not exists relay_names (
    run_id text not null,
    name_key text not null,
    peer text not null,
    primary key (run_id, name_key)
  )`);
  await sql.query('create index if not exists relay_names_peer on relay_names (run_id, peer)');
  const claim = (peerId: string, name: string): Promise<string> => {
    const key = normalizeName(name);
    if (key === '') return Promise.resolve(peerId);
    // One claim per identity at a time, run-wide: two hellos on two relays at the same instant
    // would otherwise each keep their name and release the other's old one (an outside attack
    // held a name per relay this way).
    return sql.transaction(async (tx) => {
      await tx.query("select pg_advisory_xact_lock(hashtext($1 || '/' || $2))", [runId, peerId]);
      const [row] = await tx.query<{ peer: string }>(
        `with mine as (
           insert into relay_names (run_id, name_key, peer) values ($1, $2, $3)
           on conflict (run_id, name_key) do nothing returning peer)
         select peer from mine union all select peer from relay_names where run_id = $1 and name_key = $2 limit 1`,
        [runId, key, peerId],
      );
      // Lost a race the statement's snapshot could not see: the winner is committed now.
      const holder =
        row?.peer ??
        (
          await tx.query<{ peer: string }>(
            'select peer from relay_names where run_id = $1 and name_key = $2',
            [runId, key],
          )
        )[0]?.peer ??
        peerId;
      if (holder === peerId)
        await tx.query('delete from relay_names where run_id = $1 and peer = $2 and name_key <> $3', [
          runId,
          peerId,
          key,
        ]);
      return holder;
    });
  };
  // The run's credited volunteers hold theirs from before (the ledger), as on a single relay.
  for (const { peerId, name } of known) if (name !== null) await claim(peerId, name);
  return claim;
}
