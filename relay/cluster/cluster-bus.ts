// Relays of one run talk through PostgreSQL's LISTEN/NOTIFY: each relay listens on a channel
// of its own and on the run's broadcast channel. PostgreSQL delivers a connection's
// notifications in commit order, so one sending connection keeps every relay's messages to
// another in the order they were sent (a session's join before its ready). A NOTIFY payload
// is at most 8000 bytes: messages to one channel are packed into JSON arrays below that, and
// a message with a body (a frame, an HTTP response) or too large goes through relay_mail,
// with only its row id in the notification.
import pg from 'pg';
import type { Logger } from '../logger.ts';
import type { BusEnvelope, BusMessage } from './bus-messages.ts';

/** Below PostgreSQL's 8000-byte NOTIFY limit, with room for the array's brackets. */
export const MAX_NOTIFY_BYTES = 7_000;
/** Mail nobody fetched (its relay died) is deleted after this. */
const MAIL_TTL_SECONDS = 120;
const RECONNECT_MS = 500;

export interface ClusterBus {
  readonly relayId: string;
  /** To one relay. */
  send(relay: string, message: BusMessage, bytes?: Uint8Array | null): void;
  /** To every relay of the run, this one included. */
  broadcast(message: BusMessage): void;
  /** Resolves once everything sent so far is in PostgreSQL's hands. */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

interface Outgoing {
  readonly channel: string;
  readonly text: string;
  readonly bytes: Uint8Array | null;
}

/** A LISTEN channel name: an SQL identifier, so only [a-z0-9_]. */
export function relayChannel(relayId: string): string {
  return `potluck_relay_${relayId}`;
}

export function runChannel(runKey: string): string {
  return `potluck_run_${runKey}`;
}

export async function openClusterBus(options: {
  readonly url: string;
  readonly relayId: string;
  /** [a-z0-9_] only: names the run's broadcast channel. */
  readonly runKey: string;
  readonly log: Logger;
  readonly onMessage: (envelope: BusEnvelope) => void;
}): Promise<ClusterBus> {
  const { url, relayId, log } = options;
  if (!/^[a-z0-9_]{1,40}$/.test(relayId) || !/^[a-z0-9_]{1,40}$/.test(options.runKey))
    throw new Error('relay and run ids of a cluster channel must be [a-z0-9_], at most 40');
  const own = relayChannel(relayId);
  const everyone = runChannel(options.runKey);
  const sender = new pg.Client({ connectionString: url });
  sender.on('error', (error) => log.warn({ err: error }, 'cluster bus: sending connection lost'));
  await sender.connect();
  // Reads of mail rows, beside the listener: a small pool, so a slow fetch blocks nothing else.
  const reader = new pg.Pool({ connectionString: url, max: 2 });
  reader.on('error', (error) => log.warn({ err: error }, 'cluster bus: idle reader lost'));

  let closed = false;
  let listener: pg.Client | null = null;
  // Notifications are handled one after another, mail fetches included, so order holds.
  let incoming: Promise<void> = Promise.resolve();
  const deliver = (payload: string) => {
    incoming = incoming
      .then(() => unpack(payload))
      .catch((error: unknown) => {
        log.warn({ err: error }, 'cluster bus: a notification could not be read');
      });
  };
  async function unpack(payload: string): Promise<void> {
    if (payload.startsWith('m') || payload.startsWith('b')) {
      // 'm': mail to this relay alone, taken; 'b': a broadcast's, read by each and swept later.
      const id = Number(payload.slice(1));
      const statement =
        payload[0] === 'm'
          ? 'delete from relay_mail where id = $1 returning meta, body'
          : 'select meta, body from relay_mail where id = $1';
      const row = (await reader.query<{ meta: string; body: Buffer | null }>(statement, [id])).rows[0];
      if (row) handle(row.meta, row.body ? new Uint8Array(row.body) : null);
      return;
    }
    for (const text of JSON.parse(payload) as string[]) handle(text, null);
  }
  function handle(text: string, bytes: Uint8Array | null): void {
    let parsed: { from: string; message: BusMessage };
    try {
      parsed = JSON.parse(text) as { from: string; message: BusMessage };
    } catch (error) {
      log.warn({ err: error }, 'cluster bus: a message is not JSON');
      return;
    }
    try {
      options.onMessage({ from: parsed.from, message: parsed.message, bytes });
    } catch (error) {
      log.error({ err: error, type: parsed.message?.type }, 'cluster bus: a handler threw');
    }
  }

  async function listen(): Promise<void> {
    const client = new pg.Client({ connectionString: url });
    client.on('notification', (n) => {
      if (n.payload) deliver(n.payload);
    });
    client.on('error', (error) => {
      log.warn({ err: error }, 'cluster bus: listening connection lost; reconnecting');
      client.end().catch(() => undefined);
      if (listener === client) listener = null;
      if (!closed) setTimeout(() => void listen().catch(retryListen), RECONNECT_MS);
    });
    await client.connect();
    await client.query(`listen ${own}`);
    await client.query(`listen ${everyone}`);
    listener = client;
  }
  const retryListen = (error: unknown) => {
    log.warn({ err: error }, 'cluster bus: cannot listen yet');
    if (!closed) setTimeout(() => void listen().catch(retryListen), RECONNECT_MS);
  };
  await listen();

  const queue: Outgoing[] = [];
  let flushing: Promise<void> | null = null;
  const enqueue = (channel: string, message: BusMessage, bytes: Uint8Array | null) => {
    if (closed) return;
    queue.push({ channel, text: JSON.stringify({ from: relayId, message }), bytes });
    flushing ??= (async () => {
      // Let the rest of this tick queue up, so a round's messages to a relay share notifications.
      await new Promise((resolve) => setImmediate(resolve));
      try {
        while (queue.length > 0) await sendSome();
      } catch (error) {
        log.warn({ err: error }, 'cluster bus: messages were lost');
        queue.length = 0;
      } finally {
        flushing = null;
      }
    })();
  };
  async function sendSome(): Promise<void> {
    const first = queue[0] as Outgoing;
    if (first.bytes || Buffer.byteLength(JSON.stringify(first.text)) + 2 > MAX_NOTIFY_BYTES) {
      queue.shift();
      await sender.query(
        `with m as (insert into relay_mail (meta, body) values ($1, $2) returning id)
         select pg_notify($3, $4 || m.id) from m`,
        [
          first.text,
          first.bytes ? Buffer.from(first.bytes) : null,
          first.channel,
          first.channel === everyone ? 'b' : 'm',
        ],
      );
      return;
    }
    // Consecutive small messages, packed per channel; one statement notifies them all.
    const packs: { channel: string; texts: string[]; size: number }[] = [];
    while (queue.length > 0 && packs.length < 64) {
      const next = queue[0] as Outgoing;
      // Bytes this text adds to a JSON array of texts: itself quoted and escaped, and a comma.
      const size = Buffer.byteLength(JSON.stringify(next.text)) + 1;
      if (next.bytes || size + 2 > MAX_NOTIFY_BYTES) break;
      const last = packs[packs.length - 1];
      if (last && last.channel === next.channel && last.size + size <= MAX_NOTIFY_BYTES) {
        last.texts.push(next.text);
        last.size += size;
      } else {
        packs.push({ channel: next.channel, texts: [next.text], size: size + 2 });
      }
      queue.shift();
    }
    const params: string[] = [];
    const calls = packs.map((pack) => {
      params.push(pack.channel, JSON.stringify(pack.texts));
      return `pg_notify($${params.length - 1}, $${params.length})`;
    });
    await sender.query(`select ${calls.join(', ')}`, params);
  }

  const sweeper = setInterval(() => {
    reader
      .query(
        `delete from relay_mail where sent_at < clock_timestamp() - interval '${MAIL_TTL_SECONDS} seconds'`,
      )
      .catch((error: unknown) => log.warn({ err: error }, 'cluster bus: could not sweep mail'));
  }, MAIL_TTL_SECONDS * 500);
  sweeper.unref();

  const flushed = async () => {
    while (flushing) await flushing;
  };
  return {
    relayId,
    send(relay, message, bytes = null) {
      enqueue(relayChannel(relay), message, bytes);
    },
    broadcast(message) {
      enqueue(everyone, message, null);
    },
    flushed,
    async close() {
      if (closed) return;
      await flushed();
      closed = true;
      clearInterval(sweeper);
      await Promise.allSettled([sender.end(), listener?.end(), reader.end()]);
    },
  };
}
