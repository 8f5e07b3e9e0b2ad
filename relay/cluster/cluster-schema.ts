// The tables several relays of one run share in PostgreSQL, beside the ledger's
// (relay/ledger/schema.ts): who is up and where (relay_nodes), who decides the rounds
// (run_leases), bodies too large for a NOTIFY (relay_mail), the committed states every relay
// serves (checkpoints), and proven equivocations. `create ... if not exists` under an advisory
// lock, so relays starting together do not race each other's DDL.
import type { Sql } from '../ledger/sql.ts';

/** Arbitrary, fixed: the key of the advisory lock held while creating these tables. */
const SCHEMA_LOCK = 7_215_001;

export async function ensureClusterSchema(sql: Sql): Promise<void> {
  await sql.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await tx.query(`create table if not exists relay_nodes (
      id text primary key,
      run_id text not null,
      url text not null,
      started_at timestamptz not null default clock_timestamp(),
      seen_at timestamptz not null default clock_timestamp()
    )`);
    await tx.query(`create table if not exists run_leases (
      run_id text primary key,
      epoch bigint not null,
      holder text not null,
      expires_at timestamptz not null
    )`);
    await tx.query(`create table if not exists relay_mail (
      id bigserial primary key,
      meta text not null,
      body bytea,
      sent_at timestamptz not null default clock_timestamp()
    )`);
    await tx.query(`create table if not exists checkpoints (
      run_id text not null,
      round bigint not null,
      model_hash text not null,
      bytes bytea not null,
      saved_at timestamptz not null default clock_timestamp(),
      primary key (run_id, model_hash, round)
    )`);
    await tx.query(`create table if not exists equivocations (
      run_id text not null,
      author text not null,
      proof text not null,
      recorded_at timestamptz not null default clock_timestamp(),
      primary key (run_id, author)
    )`);
  });
}
