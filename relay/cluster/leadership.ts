// Exactly one relay decides a run's rounds: the one holding the run's lease in PostgreSQL
// (run_leases). A lease runs out `ttlMs` after its last renewal, by the database's clock, so
// relays' clocks never have to agree. Taking a lease over bumps its epoch, and the round commit
// checks the epoch and the expiry inside its own transaction (fence), so a relay that was paused
// (a long GC, SIGSTOP, a VM migration) and wakes up still believing it leads cannot commit a
// round late: its commit fails, and it steps down at its next renewal.
import type { Sql } from '../ledger/sql.ts';
import type { Logger } from '../logger.ts';
import type { Presence } from './presence-lock.ts';

export class LeaseLostError extends Error {
  readonly code = 'ERR_LEASE_LOST';
}

export interface LeadershipEvents {
  /** This relay now holds the lease, at `epoch`. */
  onLead(epoch: number): void;
  /** It no longer does (another relay took it, or the database could not confirm it in time). */
  onLose(reason: string): void;
  /** Another relay holds it (seen at each tick while following). */
  onLeader(relay: string, epoch: number): void;
}

export interface LeadershipOptions extends LeadershipEvents {
  readonly sql: Sql;
  readonly runId: string;
  readonly relayId: string;
  /** A lease not renewed for this long can be taken over. */
  readonly ttlMs: number;
  readonly log: Logger;
  /**
   * Whether the relay this lease speaks for still works (lease-thread.ts: its main thread has
   * beaten recently). While it does not, the lease is neither renewed nor taken.
   */
  readonly alive?: () => boolean;
  /**
   * The run's presence lock (presence-lock.ts), started with a callback that wakes this lease
   * up when the lock becomes this relay's: the leader died, and waiting out its lease would
   * leave the run without one for seconds.
   */
  readonly presence?: (wake: () => void) => Presence;
}

/**
 * Throws LeaseLostError unless `relayId` holds the run's lease at `epoch`, unexpired; run inside
 * the round commit's transaction, which it locks the lease row for, so a takeover waits for the
 * commit and the commit cannot follow a takeover.
 */
export async function fenceLease(
  tx: Sql,
  runId: string,
  relayId: string,
  epoch: number | null,
): Promise<void> {
  const rows =
    epoch === null
      ? []
      : await tx.query(
          `select 1 from run_leases where run_id = $1 and holder = $2 and epoch = $3
             and expires_at > clock_timestamp() for update`,
          [runId, relayId, epoch],
        );
  if (rows.length === 0)
    throw new LeaseLostError(`relay ${relayId} no longer holds the lease of run ${runId}`);
}

export class Leadership {
  private held: { epoch: number; confirmedAt: number } | null = null;
  private readonly timer: ReturnType<typeof setInterval>;
  private ticking: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly presence: Presence | null;

  constructor(private readonly options: LeadershipOptions) {
    // Four renewals per lease: one lost query does not lose it.
    this.timer = setInterval(() => this.tick(), Math.max(50, options.ttlMs / 4));
    this.presence = options.presence?.(() => this.tick()) ?? null;
    this.tick();
  }

  get epoch(): number | null {
    return this.held?.epoch ?? null;
  }

  /** Throws LeaseLostError unless this relay still holds the lease; call inside the commit's transaction. */
  async fence(tx: Sql): Promise<void> {
    const held = this.held;
    const rows = held
      ? await tx.query(
          `select 1 from run_leases where run_id = $1 and holder = $2 and epoch = $3
             and expires_at > clock_timestamp() for update`,
          [this.options.runId, this.options.relayId, held.epoch],
        )
      : [];
    if (rows.length === 0)
      throw new LeaseLostError(
        `relay ${this.options.relayId} no longer holds the lease of run ${this.options.runId}`,
      );
  }

  private tick(): void {
    this.ticking = this.ticking
      .then(() => (this.closed ? undefined : this.step()))
      .catch((error: unknown) => {
        this.options.log.warn({ err: error }, 'lease: the database did not answer');
        const held = this.held;
        // Unconfirmed for a whole lease: another relay may hold it by now.
        if (held && performance.now() - held.confirmedAt > this.options.ttlMs)
          this.lose('the database did not confirm the lease');
      });
  }

  private async step(): Promise<void> {
    const { sql, runId, relayId, ttlMs } = this.options;
    const interval = `${Math.round(ttlMs)} milliseconds`;
    const held = this.held;
    // A relay that stopped working lets its lease run out, and takes none; it lets its
    // presence go at once, so a live relay need not wait for the lease.
    if (this.options.alive && !this.options.alive()) return this.presence?.release();
    if (held) {
      const renewed = await sql.query(
        `update run_leases set expires_at = clock_timestamp() + $4::interval
           where run_id = $1 and holder = $2 and epoch = $3 returning epoch`,
        [runId, relayId, held.epoch, interval],
      );
      if (renewed.length === 0) return this.lose('another relay took the lease');
      if (this.held === held) held.confirmedAt = performance.now();
      return;
    }
    // Holding the presence lock means no live relay holds the run: its lease need not run out.
    const leaderGone = this.presence?.held ?? false;
    const taken = await sql.query<{ epoch: string }>(
      `insert into run_leases (run_id, epoch, holder, expires_at)
         values ($1, 1, $2, clock_timestamp() + $3::interval)
       on conflict (run_id) do update
         set epoch = run_leases.epoch + 1, holder = excluded.holder, expires_at = excluded.expires_at
         where run_leases.expires_at < clock_timestamp() or $4::boolean
       returning epoch`,
      [runId, relayId, interval, leaderGone],
    );
    const row = taken[0];
    if (row) {
      const epoch = Number(row.epoch);
      this.held = { epoch, confirmedAt: performance.now() };
      this.options.log.info({ runId, epoch }, 'lease: this relay leads the run');
      this.options.onLead(epoch);
      return;
    }
    const [current] = await sql.query<{ holder: string; epoch: string }>(
      'select holder, epoch from run_leases where run_id = $1',
      [runId],
    );
    if (current) this.options.onLeader(current.holder, Number(current.epoch));
  }

  private lose(reason: string): void {
    if (!this.held) return;
    this.options.log.warn(
      { runId: this.options.runId, epoch: this.held.epoch, reason },
      'lease: stepping down',
    );
    this.held = null;
    void this.presence?.release();
    this.options.onLose(reason);
  }

  /** Stops renewing; gives the lease up at once when held, so another relay need not wait it out. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.ticking;
    const held = this.held;
    this.held = null;
    await this.presence?.close();
    if (held)
      await this.options.sql
        .query(
          'update run_leases set expires_at = clock_timestamp() where run_id = $1 and holder = $2 and epoch = $3',
          [this.options.runId, this.options.relayId, held.epoch],
        )
        .catch((error: unknown) => this.options.log.warn({ err: error }, 'lease: could not give it up'));
  }
}
