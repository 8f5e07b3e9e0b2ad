// A schema of its own in the test PostgreSQL (.ci/run starts one and sets
// POTLUCK_TEST_DATABASE_URL) for relays of a cluster under test: its URL names the schema in
// `options=-c search_path=…`, so every connection a relay opens (the pool, the bus's listener
// and sender) lands in it, and tests running side by side never share a run's lease or rows.
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Sql } from '../../relay/ledger/sql.ts';
import { openPostgres } from '../../relay/ledger/sql-postgres.ts';

export const POSTGRES_URL = process.env.POTLUCK_TEST_DATABASE_URL;

export interface ClusterDatabase {
  /** postgres://… with this schema as the search path. */
  readonly url: string;
  dispose(): Promise<void>;
}

export async function freshClusterDatabase(): Promise<ClusterDatabase> {
  if (!POSTGRES_URL) throw new Error('POTLUCK_TEST_DATABASE_URL is not set (.ci/run sets it)');
  const schema = `c_${Math.random().toString(36).slice(2, 12)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    async dispose() {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`drop schema ${schema} cascade`);
      await client.end();
    },
  };
}

/** A state folder holding `keyFrom`'s relay key: relays of one cluster sign with one key. */
export async function stateDirSharingKey(keyFrom: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'potluck-cluster-'));
  await copyFile(join(keyFrom, 'relay-key.pkcs8'), join(dir, 'relay-key.pkcs8'));
  return dir;
}

/**
 * A fresh schema and `count` connection pools to it (one per relay the test plays), each closed,
 * and the schema dropped, by the steps pushed on `cleanup`.
 */
export async function freshClusterPools(
  cleanup: (() => Promise<unknown>)[],
  count: number,
): Promise<{ readonly db: ClusterDatabase; readonly pools: Sql[] }> {
  const db = await freshClusterDatabase();
  cleanup.push(() => db.dispose());
  const pools: Sql[] = [];
  for (let i = 0; i < count; i++) {
    const sql = await openPostgres(db.url);
    cleanup.push(() => sql.close());
    pools.push(sql);
  }
  return { db, pools };
}
