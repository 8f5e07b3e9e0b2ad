// Tells a follower at once that the leading relay died, instead of after its lease runs out.
// The leader holds a session-level advisory lock on a connection of its own; PostgreSQL frees
// it the moment that connection ends (a killed process's sockets close with it), and each
// follower waits for it in a blocking pg_advisory_lock. The one that gets it knows no live
// relay holds the run, and may take the lease over unexpired (leadership.ts): safe, because the
// takeover bumps the epoch and every commit is fenced on it. A relay cut off from the database
// without dying loses the lock as well, and the run with it; a paused one keeps both, and the
// lease's expiry still decides then.
import pg from 'pg';
import type { Logger } from '../logger.ts';

/** What a lease holder needs of its presence: whether it holds the lock, and giving it back. */
export interface Presence {
  /** True while this relay holds the run's lock (then no other live relay does). */
  readonly held: boolean;
  /** Lets the lock go (stepping down, or a stalled main thread) and queues for it again. */
  release(): Promise<void>;
  close(): Promise<void>;
}

/** Advisory lock keys are database-wide: the first names Potluck, the second the schema and run. */
const LOCK_CLASS = 0x506f74; // "Pot"
const RECONNECT_MS = 500;

export class PresenceLock implements Presence {
  private client: pg.Client | null = null;
  private holding = false;
  private closed = false;
  /** Set while a release is under way, so the waiting loop does not queue twice. */
  private waiting: Promise<void> | null = null;

  private constructor(
    private readonly options: {
      readonly url: string;
      readonly runId: string;
      readonly log: Logger;
      /** Called once each time the lock is taken. */
      readonly onHeld: () => void;
    },
  ) {}

  /** Connects and queues for the lock; `onHeld` fires when it is this relay's. */
  static start(options: PresenceLock['options']): PresenceLock {
    const lock = new PresenceLock(options);
    lock.queue();
    return lock;
  }

  get held(): boolean {
    return this.holding;
  }

  private queue(): void {
    if (this.closed || this.waiting) return;
    this.waiting = this.waitForLock()
      .catch((error: unknown) => {
        this.holding = false;
        if (this.closed) return;
        this.options.log.warn({ err: error }, 'presence lock: connection lost; queuing again');
        this.client?.end().catch(() => undefined);
        this.client = null;
        return new Promise<void>((resolve) => setTimeout(resolve, RECONNECT_MS));
      })
      .finally(() => {
        this.waiting = null;
        if (!this.holding) this.queue();
      });
  }

  private async waitForLock(): Promise<void> {
    if (!this.client) {
      const client = new pg.Client({ connectionString: this.options.url });
      // A lost connection frees the lock on the server; the query in flight fails and we queue again.
      client.on('error', (error) => {
        if (this.closed) return;
        this.options.log.warn({ err: error }, 'presence lock: connection error');
        this.holding = false;
        if (this.client === client) this.client = null;
        client.end().catch(() => undefined);
        this.queue(); // a no-op while the wait is in flight: it fails and queues again itself
      });
      await client.connect();
      this.client = client;
    }
    await this.client.query(`select pg_advisory_lock($1, hashtext(current_schema() || '/' || $2))`, [
      LOCK_CLASS,
      this.options.runId,
    ]);
    if (this.closed) return;
    this.holding = true;
    this.options.onHeld();
  }

  async release(): Promise<void> {
    if (!this.holding || !this.client) return;
    this.holding = false;
    await this.client
      .query(`select pg_advisory_unlock($1, hashtext(current_schema() || '/' || $2))`, [
        LOCK_CLASS,
        this.options.runId,
      ])
      .catch((error: unknown) => this.options.log.warn({ err: error }, 'presence lock: could not unlock'));
    this.queue();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.holding = false;
    // Ending the connection frees the lock, and ends a pg_advisory_lock still waiting.
    await this.client?.end().catch(() => undefined);
  }
}
