// The run's lease, kept from a worker thread (lease-worker.ts) so that a leader busy on its
// main thread (aggregating a round of thousands of frames takes the CPU for seconds) does not
// lose the lease to a relay that believes it dead. The main thread beats every 250 ms into
// shared memory; the worker renews while the beat is fresher than `maxStallMs`. SIGKILL ends
// both threads, so a dead relay's lease still runs out `ttlMs` after its last renewal.
import { Worker } from 'node:worker_threads';
import type { Sql } from '../ledger/sql.ts';
import type { Logger } from '../logger.ts';
import { fenceLease, type LeadershipEvents } from './leadership.ts';

/** What the worker is started with. */
export interface LeaseThreadStart {
  readonly databaseUrl: string;
  readonly runId: string;
  readonly relayId: string;
  readonly ttlMs: number;
  readonly maxStallMs: number;
  /** One BigInt64: the main thread's last beat, in epoch milliseconds. */
  readonly heartbeat: SharedArrayBuffer;
}

export type LeaseThreadEvent =
  | { readonly type: 'lead'; readonly epoch: number }
  | { readonly type: 'lose'; readonly reason: string }
  | { readonly type: 'leader'; readonly relay: string; readonly epoch: number }
  | {
      readonly type: 'log';
      readonly level: 'debug' | 'info' | 'warn' | 'error';
      readonly fields: object;
      readonly message: string;
    }
  | { readonly type: 'closed' };

const BEAT_MS = 250;

export class LeaseThread {
  private held: number | null = null;
  private readonly worker: Worker;
  private readonly beater: ReturnType<typeof setInterval>;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly options: Omit<LeaseThreadStart, 'heartbeat'> &
      LeadershipEvents & { readonly log: Logger },
  ) {
    const heartbeat = new SharedArrayBuffer(8);
    const beat = new BigInt64Array(heartbeat);
    Atomics.store(beat, 0, BigInt(Date.now()));
    this.beater = setInterval(() => Atomics.store(beat, 0, BigInt(Date.now())), BEAT_MS);
    this.beater.unref();
    const { databaseUrl, runId, relayId, ttlMs, maxStallMs } = options;
    const start: LeaseThreadStart = { databaseUrl, runId, relayId, ttlMs, maxStallMs, heartbeat };
    this.worker = new Worker(new URL('./lease-worker.mjs', import.meta.url), { workerData: start });
    this.worker.on('message', (event: LeaseThreadEvent) => this.received(event));
    this.worker.on('error', (error) => {
      options.log.error({ err: error }, 'lease thread failed');
      this.lost('the lease thread failed');
    });
    this.worker.on('exit', () => this.lost('the lease thread stopped'));
  }

  get epoch(): number | null {
    return this.held;
  }

  /** Throws LeaseLostError unless this relay still holds the lease; inside the commit's transaction. */
  fence(tx: Sql): Promise<void> {
    return fenceLease(tx, this.options.runId, this.options.relayId, this.held);
  }

  private received(event: LeaseThreadEvent): void {
    switch (event.type) {
      case 'lead':
        this.held = event.epoch;
        this.options.onLead(event.epoch);
        return;
      case 'lose':
        this.lost(event.reason);
        return;
      case 'leader':
        this.options.onLeader(event.relay, event.epoch);
        return;
      case 'log':
        this.options.log[event.level](event.fields, event.message);
        return;
      case 'closed':
        return;
      default:
        event satisfies never;
    }
  }

  private lost(reason: string): void {
    if (this.held === null) return;
    this.held = null;
    this.options.onLose(reason);
  }

  /** Gives the lease up at once when held, and stops the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.beater);
      const closed = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5_000);
        this.worker.on('message', (event: LeaseThreadEvent) => {
          if (event.type === 'closed') {
            clearTimeout(timer);
            resolve();
          }
        });
        this.worker.once('exit', () => resolve());
      });
      this.worker.postMessage({ type: 'close' });
      await closed;
      this.held = null;
      await this.worker.terminate();
    })();
    return this.closing;
  }
}
