// The ledger's tables and how a database reaches the current version. Each migration runs
// once, in order, in one transaction with its row in schema_version, so a crash mid-way
// leaves the previous version intact. Statements say `if not exists` all the same, so a
// table made by hand or by an older build is adopted rather than refused. The same text
// runs on PGlite and on PostgreSQL 15.
import { LedgerError } from './errors.ts';
import type { Sql } from './sql.ts';

interface Migration {
  readonly version: number;
  /** Throws when the database holds what this migration cannot carry over. */
  readonly precondition?: (tx: Sql) => Promise<void>;
  readonly statements: readonly string[];
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    statements: [
      `create table if not exists runs (
        id text primary key,
        config jsonb not null,
        created_at timestamptz not null
      )`,
      `create table if not exists peers (
        public_key text primary key,
        name text,
        first_seen timestamptz not null,
        last_seen timestamptz not null,
        gpu_ms bigint not null default 0
      )`,
      `create table if not exists rounds (
        run_id text not null references runs (id),
        round int not null,
        model_hash text not null,
        tokens bigint not null,
        train_loss double precision,
        shards jsonb not null,
        committed_at timestamptz not null,
        primary key (run_id, round)
      )`,
      // Append-only: the code never updates or deletes a row here. Every column but
      // idempotency_key is part of the hashed content (protocol/ledger-entry.ts).
      `create table if not exists ledger_entries (
        height bigint primary key,
        prev_hash text not null,
        hash text not null unique,
        run_id text not null,
        round int not null,
        peer_key text not null,
        tokens bigint not null,
        flops numeric not null,
        model_hash text not null,
        idempotency_key text not null unique,
        created_at text not null,
        foreign key (run_id, round) references rounds (run_id, round)
      )`,
      'create index if not exists ledger_entries_peer on ledger_entries (peer_key)',
      'create index if not exists ledger_entries_round on ledger_entries (run_id, round)',
      `create table if not exists ledger_heads (
        height bigint primary key,
        hash text not null,
        round int not null,
        run_id text not null,
        signature text not null,
        foreign key (run_id, round) references rounds (run_id, round)
      )`,
    ],
  },
  {
    // Entry kinds (protocol/ledger-entry.ts v2), round members, and a signed head for every
    // round, covering its metadata. A v1 ledger is not carried over: its heads sign no
    // metadata and its empty rounds have none, so it could never verify. No v1 ledger holds
    // anything worth keeping (nothing was deployed), so one with rounds is refused instead.
    version: 2,
    precondition: async (tx) => {
      const [row] = await tx.query('select 1 from rounds limit 1');
      if (row) {
        throw new LedgerError(
          'ERR_LEDGER_SCHEMA',
          'this database holds a v1 ledger, which is not migrated: start with a new state folder or database',
        );
      }
    },
    statements: [
      'alter table ledger_entries add column kind text not null',
      'alter table ledger_entries add column reason text not null',
      `alter table ledger_entries add constraint ledger_entries_kind
         check (kind in ('credit-verified', 'credit-provisional', 'verify', 'forfeit', 'ban'))`,
      // Settlements sum a peer's entries in a run since its last settlement.
      'create index ledger_entries_run_peer on ledger_entries (run_id, peer_key, height)',
      // [{peerKey, name, busyMs}] in the relay's order: hashed into the round's head.
      'alter table rounds add column members jsonb not null',
      // Commit order, the cursor auditors page rounds by; not part of anything signed.
      'alter table rounds add column seq bigint generated always as identity',
      'create unique index rounds_seq on rounds (seq)',
      'drop table ledger_heads',
      // One head per round, credited or not; several rounds in a row that credit nobody
      // share a height (the chain's tip, 0 before the first entry).
      `create table ledger_heads (
        run_id text not null,
        round int not null,
        height bigint not null check (height >= 0),
        hash text not null,
        metadata_digest text not null,
        signature text not null,
        primary key (run_id, round),
        foreign key (run_id, round) references rounds (run_id, round)
      )`,
      'create index ledger_heads_height on ledger_heads (height)',
    ],
  },
  {
    // Rotating the relay's key (protocol/ledger-keys.ts): a `relay-key` entry in the chain and,
    // beside it, the two signatures that make it a rotation. Its hash and new key are the
    // entry's own columns, read through the join, so the two can never disagree.
    version: 3,
    statements: [
      'alter table ledger_entries drop constraint ledger_entries_kind',
      `alter table ledger_entries add constraint ledger_entries_kind
         check (kind in ('credit-verified', 'credit-provisional', 'verify', 'forfeit', 'ban', 'relay-key'))`,
      `create table relay_keys (
        height bigint primary key references ledger_entries (height),
        from_key text not null,
        from_signature text not null,
        to_signature text not null
      )`,
    ],
  },
  {
    // Where a run started (protocol/run-origin-record.ts): one row per run that started from a
    // model, written once when it first opens and never updated, signed by the relay's key.
    version: 4,
    statements: [
      `create table run_origins (
        run_id text primary key references runs (id),
        kind text not null check (kind in ('run', 'file')),
        source text not null,
        round int,
        model_hash text not null,
        recorded_at text not null,
        signature text not null
      )`,
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Arbitrary, fixed: relays sharing one server take turns migrating, never at once. */
const MIGRATION_LOCK = 0x706f746c; // 'potl'

/** Brings the database to SCHEMA_VERSION; a no-op when it is there already. */
export async function migrate(sql: Sql): Promise<void> {
  await sql.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(`create table if not exists schema_version (
      version int primary key,
      applied_at timestamptz not null default now()
    )`);
    const [row] = await tx.query<{ version: number | null }>(
      'select max(version) as version from schema_version',
    );
    const current = row?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new LedgerError(
        'ERR_LEDGER_SCHEMA',
        `the database is at schema version ${current}; this relay knows up to ${SCHEMA_VERSION}`,
      );
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      await migration.precondition?.(tx);
      for (const statement of migration.statements) await tx.query(statement);
      await tx.query('insert into schema_version (version) values ($1)', [migration.version]);
    }
  });
}
