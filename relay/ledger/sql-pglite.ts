// The embedded database: PGlite, PostgreSQL compiled to WebAssembly, in a data folder (or in
// memory for tests). One connection, so statements and transactions run one at a time;
// PGlite's own mutex queues them.
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { LedgerError } from './errors.ts';
import type { Sql } from './sql.ts';

/**
 * Opens (creating it when new) the database in `dataDir`, or an in-memory one without it.
 * A fresh folder takes seconds: PGlite runs initdb in WebAssembly.
 */
export async function openPglite(dataDir?: string): Promise<Sql> {
  const db = await PGlite.create(dataDir ?? 'memory://');
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw new LedgerError('ERR_LEDGER_CLOSED', 'the PGlite database is closed');
  };
  return {
    async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
      ensureOpen();
      return (await db.query<T>(text, params as unknown[] | undefined)).rows;
    },
    async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
      ensureOpen();
      return db.transaction((tx) => fn(wrapTransaction(tx)));
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await db.close();
    },
  };
}

function wrapTransaction(tx: Transaction): Sql {
  const sql: Sql = {
    async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
      return (await tx.query<T>(text, params as unknown[] | undefined)).rows;
    },
    transaction: (fn) => fn(sql),
    async close(): Promise<void> {
      throw new LedgerError('ERR_LEDGER_CLOSED', 'a transaction is closed by its commit, not by close()');
    },
  };
  return sql;
}
