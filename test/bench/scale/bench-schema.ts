// A schema of its own in PostgreSQL for each cluster row of bench:scale, as
// test/helpers/cluster-database.ts makes one per test: the relays' URL names it in
// `options=-c search_path=…`, so every connection they open (the pool, the bus's listener and
// sender) lands in it, and a row never meets an earlier row's run, lease or ledger. Dropped at
// the end of the row.
import pg from 'pg';

export interface BenchSchema {
  /** The database URL with this schema as the search path. */
  readonly url: string;
  readonly name: string;
  /** One statement in the schema, on a connection of its own. */
  query<T>(statement: string): Promise<T[]>;
  drop(): Promise<void>;
}

async function run<T>(url: string, statement: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(statement)).rows as T[];
  } finally {
    await client.end();
  }
}

export async function freshSchema(databaseUrl: string): Promise<BenchSchema> {
  // [a-z0-9_] only: it goes into SQL and into the URL's options as it is.
  const name = `bench_scale_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  await run(databaseUrl, `create schema ${name}`);
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${name}`);
  return {
    url: url.toString(),
    name,
    query: (statement) => run(url.toString(), statement),
    drop: async () => {
      await run(databaseUrl, `drop schema ${name} cascade`);
    },
  };
}
