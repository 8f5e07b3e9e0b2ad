// The databases every ledger store test runs on: in-memory PGlite, PGlite in a data folder,
// and a real PostgreSQL server when POTLUCK_TEST_DATABASE_URL names one (.ci/run starts
// it). Each test gets a fresh schema of its own, so tests never see each other's rows and
// one slow PGlite start (seconds: initdb in WebAssembly) serves a whole file.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Sql } from '../../../relay/ledger/sql.ts';
import { openPglite } from '../../../relay/ledger/sql-pglite.ts';
import { openPostgres } from '../../../relay/ledger/sql-postgres.ts';

export const POSTGRES_URL = process.env.POTLUCK_TEST_DATABASE_URL;

export interface TestDatabase {
  /** Connected to the test's own schema. */
  readonly sql: Sql;
  /** Another connection to the same schema: a second relay sharing the database. */
  connectAgain(): Promise<Sql>;
  dispose(): Promise<void>;
}

export interface Backend {
  readonly name: string;
  /** True when this machine cannot run it (no PostgreSQL URL). */
  readonly unavailable: boolean;
  fresh(): Promise<TestDatabase>;
  /** Closes what the backend shares between tests; call in afterAll. */
  shutdown(): Promise<void>;
}

function schemaName(): string {
  return `t_${Math.random().toString(36).slice(2, 12)}`;
}

/** One PGlite for all tests of a file; a schema per test, chosen with search_path. */
function pgliteBackend(name: string, folder: () => Promise<string | undefined>): Backend {
  let shared: Promise<{ sql: Sql; dir: string | undefined }> | null = null;
  return {
    name,
    unavailable: false,
    async fresh() {
      shared ??= folder().then(async (dir) => ({ sql: await openPglite(dir), dir }));
      const { sql } = await shared;
      const schema = schemaName();
      await sql.query(`create schema ${schema}`);
      await sql.query(`set search_path to ${schema}`);
      return {
        // PGlite is one connection: a second relay on it is the same connection.
        sql: { ...sql, close: async () => {} },
        connectAgain: async () => ({ ...sql, close: async () => {} }),
        dispose: async () => {
          await sql.query('set search_path to public');
          await sql.query(`drop schema ${schema} cascade`);
        },
      };
    },
    async shutdown() {
      if (!shared) return;
      const { sql, dir } = await shared;
      await sql.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A pool per test, on a schema made for it and dropped after it. */
function postgresBackend(url: string | undefined): Backend {
  let admin: pg.Pool | null = null;
  return {
    name: 'postgresql',
    unavailable: !url,
    async fresh() {
      if (!url) throw new Error('POTLUCK_TEST_DATABASE_URL is not set');
      admin ??= new pg.Pool({ connectionString: url, max: 2 });
      const schema = schemaName();
      await admin.query(`create schema ${schema}`);
      const connect = () => openPostgres(url, { pool: { options: `-c search_path=${schema}`, max: 4 } });
      const opened: Sql[] = [await connect()];
      return {
        sql: opened[0] as Sql,
        connectAgain: async () => {
          const sql = await connect();
          opened.push(sql);
          return sql;
        },
        dispose: async () => {
          for (const sql of opened) await sql.close();
          await admin?.query(`drop schema ${schema} cascade`);
        },
      };
    },
    async shutdown() {
      await admin?.end();
      admin = null;
    },
  };
}

export function backends(): Backend[] {
  return [
    pgliteBackend('pglite memory', async () => undefined),
    pgliteBackend('pglite folder', () => mkdtemp(join(tmpdir(), 'potluck-ledger-'))),
    postgresBackend(POSTGRES_URL),
  ];
}
