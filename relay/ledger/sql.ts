// The little of a SQL client the ledger needs, so the same store runs on embedded PGlite and
// on a PostgreSQL server (docs/ARCHITECTURE.md, "Storage and scale"). Every statement is
// plain PostgreSQL 15 with $n parameters; nothing here depends on which one answers.

export interface Sql {
  /** Rows of one statement; parameters are bound, never pasted into the text. */
  query<T>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws.
   * Inside, `tx.transaction` joins the same transaction rather than nesting.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /** Safe to call twice; queries after it fail with ERR_LEDGER_CLOSED. */
  close(): Promise<void>;
}
