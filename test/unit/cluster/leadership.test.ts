// The run's lease: one relay leads; when it stops renewing, another takes over with a higher
// epoch; and a leader that was paused past its lease cannot commit when it wakes (the fence
// inside the commit's transaction refuses it), while the new leader can.
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureClusterSchema } from '../../../relay/cluster/cluster-schema.ts';
import { Leadership, LeaseLostError } from '../../../relay/cluster/leadership.ts';
import { LeaseThread } from '../../../relay/cluster/lease-thread.ts';
import type { Sql } from '../../../relay/ledger/sql.ts';
import { openPostgres } from '../../../relay/ledger/sql-postgres.ts';
import { silentLogger } from '../../../relay/logger.ts';
import { freshClusterDatabase, POSTGRES_URL } from '../../helpers/cluster-database.ts';

const TTL_MS = 400;

/** `sql` whose queries wait while `paused`: a relay process stopped by SIGSTOP or a long GC. */
function pausable(sql: Sql): { sql: Sql; pause(): void; resume(): void } {
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => {};
  const wait = <T>(run: () => Promise<T>) => gate.then(run);
  return {
    sql: {
      query: (text, params) => wait(() => sql.query(text, params)),
      transaction: (fn) => wait(() => sql.transaction(fn)),
      close: () => sql.close(),
    },
    pause() {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    resume: () => open(),
  };
}

describe.skipIf(!POSTGRES_URL)('the run lease', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  });

  it('moves to another relay when the leader stops renewing, and fences the old one out', async () => {
    const db = await freshClusterDatabase();
    cleanup.push(() => db.dispose());
    const sqlA = await openPostgres(db.url);
    const sqlB = await openPostgres(db.url);
    cleanup.push(
      () => sqlA.close(),
      () => sqlB.close(),
    );
    await ensureClusterSchema(sqlA);
    const a = pausable(sqlA);
    const events: string[] = [];
    const lease = (name: string, sql: Sql) =>
      new Leadership({
        sql,
        runId: 'run-1',
        relayId: name,
        ttlMs: TTL_MS,
        log: silentLogger,
        onLead: (epoch) => events.push(`${name} leads ${epoch}`),
        onLose: (reason) => events.push(`${name} lost: ${reason}`),
        onLeader: () => {},
      });
    const leaderA = lease('a', a.sql);
    await expect.poll(() => leaderA.epoch).toBe(1);
    const leaderB = lease('b', sqlB);
    cleanup.push(
      () => leaderA.close(),
      () => leaderB.close(),
    );
    // B waits while A renews: exactly one leader.
    await new Promise((resolve) => setTimeout(resolve, 3 * TTL_MS));
    expect(leaderB.epoch).toBeNull();
    await sqlA.transaction((tx) => leaderA.fence(tx));

    // A stops in its tracks; its lease runs out and B takes the run over.
    a.pause();
    await expect.poll(() => leaderB.epoch, { timeout: 5_000 }).toBe(2);
    // A wakes up still believing it leads (its epoch is still 1) and tries to commit: refused.
    expect(leaderA.epoch).toBe(1);
    const late = sqlA.transaction((tx) => leaderA.fence(tx));
    a.resume();
    await expect(late).rejects.toBeInstanceOf(LeaseLostError);
    await sqlB.transaction((tx) => leaderB.fence(tx));
    // And it steps down at its next renewal.
    await expect.poll(() => leaderA.epoch, { timeout: 5_000 }).toBeNull();
    expect(events).toEqual(['a leads 1', 'b leads 2', 'a lost: another relay took the lease']);
  });
});

describe.skipIf(!POSTGRES_URL)('the lease kept from a thread', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  });

  /** Keeps the main thread from running for `ms`, as a round's aggregation does. */
  const busy = (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until);
  };

  it('survives a main thread busy past the lease, and is given up when it hangs past maxStallMs', async () => {
    const db = await freshClusterDatabase();
    cleanup.push(() => db.dispose());
    const sql = await openPostgres(db.url);
    cleanup.push(() => sql.close());
    await ensureClusterSchema(sql);
    const thread = (relayId: string, maxStallMs: number) => {
      const lease = new LeaseThread({
        databaseUrl: db.url,
        runId: 'run-1',
        relayId,
        ttlMs: TTL_MS,
        maxStallMs,
        log: silentLogger,
        onLead: () => {},
        onLose: () => {},
        onLeader: () => {},
      });
      cleanup.push(() => lease.close());
      return lease;
    };
    const leader = thread('a', 2_000);
    await expect.poll(() => leader.epoch, { timeout: 10_000 }).toBe(1);
    // Another relay's thread; its own main thread is this one too, so it is told to tolerate the stalls.
    const other = thread('b', 60_000);
    busy(4 * TTL_MS); // four leases long: the thread renews on its own
    await new Promise((resolve) => setTimeout(resolve, 2 * TTL_MS));
    expect(leader.epoch).toBe(1);
    expect(other.epoch).toBeNull();
    await sql.transaction((tx) => leader.fence(tx));

    busy(3_000); // past maxStallMs: a hung relay lets the run go
    await expect.poll(() => other.epoch, { timeout: 10_000 }).toBe(2);
    await expect.poll(() => leader.epoch, { timeout: 10_000 }).toBeNull();
    await expect(sql.transaction((tx) => leader.fence(tx))).rejects.toBeInstanceOf(LeaseLostError);
  });
});

describe.skipIf(!POSTGRES_URL)('a killed leader', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  });

  it('is replaced as soon as its process dies, long before its lease would run out', async () => {
    const db = await freshClusterDatabase();
    cleanup.push(() => db.dispose());
    const sql = await openPostgres(db.url);
    cleanup.push(() => sql.close());
    await ensureClusterSchema(sql);
    const ttlMs = 60_000; // the test's whole budget: only the presence lock can hand the run over in time
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/helpers/lease-holder.ts', db.url, 'run-1', 'a', String(ttlMs)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanup.push(async () => child.kill('SIGKILL'));
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await expect.poll(() => output, { timeout: 20_000 }).toContain('lead 1');

    const follower = new LeaseThread({
      databaseUrl: db.url,
      runId: 'run-1',
      relayId: 'b',
      ttlMs,
      maxStallMs: 60_000,
      log: silentLogger,
      onLead: () => {},
      onLose: () => {},
      onLeader: () => {},
    });
    cleanup.push(() => follower.close());
    // While the leader lives, its unexpired lease stays its own.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(follower.epoch).toBeNull();

    child.kill('SIGKILL');
    await expect.poll(() => follower.epoch, { timeout: 10_000 }).toBe(2);
    await sql.transaction((tx) => follower.fence(tx));
    const [lease] = await sql.query<{ expires_at: Date }>('select expires_at from run_leases');
    // The old lease had most of its minute left when the follower took over.
    expect(lease?.expires_at.getTime()).toBeGreaterThan(Date.now() + ttlMs - 15_000);
  });
});
