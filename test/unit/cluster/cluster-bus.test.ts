// The relays' bus over LISTEN/NOTIFY: messages to one relay arrive in the order sent, many small
// ones share notifications, a body or a message above the NOTIFY limit goes through relay_mail
// whole, broadcasts reach every relay, and a garbled notification is dropped, never thrown.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { BusEnvelope } from '../../../relay/cluster/bus-messages.ts';
import { type ClusterBus, openClusterBus, relayChannel } from '../../../relay/cluster/cluster-bus.ts';
import { ensureClusterSchema } from '../../../relay/cluster/cluster-schema.ts';
import { openPostgres } from '../../../relay/ledger/sql-postgres.ts';
import { silentLogger } from '../../../relay/logger.ts';
import { freshClusterDatabase, POSTGRES_URL } from '../../helpers/cluster-database.ts';

describe.skipIf(!POSTGRES_URL)('the cluster bus', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  });

  it('delivers in order, whole, and to everyone when broadcast', async () => {
    const db = await freshClusterDatabase();
    cleanup.push(() => db.dispose());
    const sql = await openPostgres(db.url);
    cleanup.push(() => sql.close());
    await ensureClusterSchema(sql);
    const got = new Map<string, BusEnvelope[]>();
    const open = async (id: string): Promise<ClusterBus> => {
      got.set(id, []);
      const bus = await openClusterBus({
        url: db.url,
        relayId: id,
        runKey: 'testrun',
        log: silentLogger,
        onMessage: (envelope) => got.get(id)?.push(envelope),
      });
      cleanup.push(() => bus.close());
      return bus;
    };
    const a = await open('aaaa');
    await open('bbbb');

    // A thousand small calls: in order, in far fewer notifications than messages.
    for (let i = 0; i < 1_000; i++)
      a.send('bbbb', { type: 'ready', peer: `p${i}`, round: i, modelHash: null });
    // A body (an uploaded frame) and a message above the NOTIFY limit, in between.
    const body = Uint8Array.from({ length: 200_000 }, (_, i) => i % 251);
    a.send('bbbb', { type: 'http-request', id: 1, method: 'PUT', path: '/x', headers: {} }, body);
    a.send('bbbb', { type: 'signal', topic: 't', data: 'x'.repeat(20_000) });
    a.send('bbbb', { type: 'leave', peer: 'last' });
    a.broadcast({ type: 'leader', epoch: 3, relay: 'aaaa' });
    await a.flushed();
    await expect.poll(() => got.get('bbbb')?.length, { timeout: 10_000 }).toBe(1_004);
    const b = got.get('bbbb') as BusEnvelope[];
    expect(b.slice(0, 1_000).map((e) => (e.message as { round: number }).round)).toEqual([
      ...Array(1_000).keys(),
    ]);
    expect(b[1_000]?.bytes).toEqual(body);
    expect((b[1_001]?.message as { data: string } | undefined)?.data).toHaveLength(20_000);
    expect(b[1_002]?.message).toEqual({ type: 'leave', peer: 'last' });
    expect(b[1_003]?.message).toEqual({ type: 'leader', epoch: 3, relay: 'aaaa' });
    expect(b.every((e) => e.from === 'aaaa')).toBe(true);
    await expect.poll(() => got.get('aaaa')?.map((e) => e.message.type)).toEqual(['leader']);
    // Taken mail is gone; nothing is left over.
    expect(await sql.query('select id from relay_mail where body is not null')).toEqual([]);

    // Garbage on the channel is dropped; the bus goes on.
    const raw = new pg.Client({ connectionString: db.url });
    await raw.connect();
    await raw.query(`select pg_notify($1, 'not json'), pg_notify($1, '["{"]'), pg_notify($1, 'm999999')`, [
      relayChannel('bbbb'),
    ]);
    await raw.end();
    a.send('bbbb', { type: 'leave', peer: 'after-garbage' });
    await expect
      .poll(() => got.get('bbbb')?.at(-1)?.message)
      .toEqual({ type: 'leave', peer: 'after-garbage' });
  });
});
