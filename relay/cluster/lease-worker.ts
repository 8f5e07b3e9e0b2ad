// The thread behind lease-thread.ts: renews the run's lease (leadership.ts) on a connection of
// its own, so the lease reflects whether the relay's process is alive, not whether its event
// loop is free at this moment (a leader aggregating thousands of frames keeps the CPU for
// seconds at a time). It stops renewing when the main thread's heartbeat is older than
// `maxStallMs`: a relay whose main thread hangs loses the run to another one. The presence lock
// lives here too: it is held as long as this process is, so its end tells the others at once.
import { parentPort, workerData } from 'node:worker_threads';
import { openPostgres } from '../ledger/sql-postgres.ts';
import type { Logger } from '../logger.ts';
import { Leadership } from './leadership.ts';
import type { LeaseThreadEvent, LeaseThreadStart } from './lease-thread.ts';
import { PresenceLock } from './presence-lock.ts';

const start = workerData as LeaseThreadStart;
const post = (event: LeaseThreadEvent) => parentPort?.postMessage(event);
const say =
  (level: 'debug' | 'info' | 'warn' | 'error') =>
  (fields: object, message?: string): void =>
    post({
      type: 'log',
      level,
      fields: JSON.parse(JSON.stringify(fields, errorFields)),
      message: message ?? '',
    });
const log: Logger = { debug: say('debug'), info: say('info'), warn: say('warn'), error: say('error') };
const beat = new BigInt64Array(start.heartbeat);

const sql = await openPostgres(start.databaseUrl, {
  onIdleError: (error) => log.warn({ err: error }, 'lease: idle connection lost'),
});
const leadership = new Leadership({
  sql,
  runId: start.runId,
  relayId: start.relayId,
  ttlMs: start.ttlMs,
  log,
  alive: () => Date.now() - Number(Atomics.load(beat, 0)) < start.maxStallMs,
  presence: (wake) => PresenceLock.start({ url: start.databaseUrl, runId: start.runId, log, onHeld: wake }),
  onLead: (epoch) => post({ type: 'lead', epoch }),
  onLose: (reason) => post({ type: 'lose', reason }),
  onLeader: (relay, epoch) => post({ type: 'leader', relay, epoch }),
});
parentPort?.on('message', (message: { type: 'close' }) => {
  if (message.type !== 'close') return;
  void leadership
    .close()
    .then(() => sql.close())
    .finally(() => post({ type: 'closed' }));
});

/** Errors become their message and code: a structured clone of an Error loses its fields. */
function errorFields(_key: string, value: unknown): unknown {
  return value instanceof Error ? { message: value.message, code: (value as { code?: string }).code } : value;
}
