// A PostgreSQL server through a `pg` pool, for relays past one machine (several of them can
// share the database: the ledger locks its table for each commit). A transaction holds one
// pooled client from BEGIN to COMMIT or ROLLBACK.
import pg from 'pg';
import { LedgerError } from './errors.ts';
import type { Sql } from './sql.ts';

export interface PostgresOptions {
  /** Passed to pg.Pool, e.g. `options: '-c search_path=...'` in tests. */
  readonly pool?: Omit<pg.PoolConfig, 'connectionString'>;
  /**
   * An idle pooled client lost its connection. Unhandled, the pool's 'error' event would
   * crash the process; the next query simply gets a fresh client, so this is only worth a log.
   */
  readonly onIdleError?: (error: Error) => void;
}

export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<Sql> {
  const pool = new pg.Pool({ ...options.pool, connectionString: url });
  const onIdleError = options.onIdleError ?? ((error: Error) => console.error('ledger pool:', error.message));
  pool.on('error', onIdleError);
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw new LedgerError('ERR_LEDGER_CLOSED', 'the PostgreSQL pool is closed');
  };
  // Fail at open, not at the first commit, when the server is unreachable.
  await pool.query('select 1');
  return {
    async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
      ensureOpen();
      return (await pool.query(text, params as unknown[] | undefined)).rows as T[];
    },
    async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
      ensureOpen();
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('begin');
        const result = await fn(clientSql(client));
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch((rollbackError: Error) => {
          // A client that cannot roll back is in an unknown state: drop it from the pool.
          broken = rollbackError;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

function clientSql(client: pg.PoolClient): Sql {
  const sql: Sql = {
    async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
      return (await client.query(text, params as unknown[] | undefined)).rows as T[];
    },
    transaction: (fn) => fn(sql),
    async close(): Promise<void> {
      throw new LedgerError('ERR_LEDGER_CLOSED', 'a transaction is closed by its commit, not by close()');
    },
  };
  return sql;
}
