// A relay that does not lead passes the coordinator's routes to the leader, but never more than
// its bound at once, in all and per client address: requests a client sends and abandons cost
// the database and the leader until answered, so a few KB of them must not become gigabytes.
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { forwardToLeader, isLeaderRoute } from '../../../relay/cluster/forward-to-leader.ts';

describe('forwarding to the leader', () => {
  it('forwards only the coordinator’s routes', () => {
    expect(isLeaderRoute('/api/runs')).toBe(true);
    expect(isLeaderRoute('/api/runs/r1')).toBe(true);
    expect(isLeaderRoute('/api/runs/r1/rounds/3/frames/abc')).toBe(true);
    expect(isLeaderRoute('/api/runs/r1/state/ff/pieces/2')).toBe(true);
    // The operator's cooldown start is the leader's coordinator's to record and apply.
    expect(isLeaderRoute('/api/runs/r1/cooldown')).toBe(true);
    expect(isLeaderRoute('/api/runs/r1/cooldown/x')).toBe(false);
    expect(isLeaderRoute('/api/runs/r1/checkpoint')).toBe(false);
    expect(isLeaderRoute('/api/runs/r1/shards/0')).toBe(false);
    expect(isLeaderRoute('/api/ledger')).toBe(false);
  });

  it('refuses past its bound with 503 and a retry hint, and frees a slot once answered', async () => {
    const waiting: (() => void)[] = [];
    const app = new Hono();
    app.use(
      '/api/runs/*',
      forwardToLeader({
        leading: () => false,
        clientOf: (c) => c.req.header('x-test-client') ?? 'unknown',
        limits: { inFlight: 6, inFlightBytes: 1_000_000, inFlightPerAddress: 4 },
        forward: () =>
          new Promise<Response>((resolve) => waiting.push(() => resolve(new Response('from the leader')))),
      }),
    );
    const get = (client: string) =>
      app.request('/api/runs/r1/state/ff/pieces/0', { headers: { 'x-test-client': client } });
    const first = [get('a'), get('a'), get('a'), get('a')];
    await expect.poll(() => waiting.length).toBe(4);
    const fifth = await get('a');
    expect(fifth.status).toBe(503);
    expect(fifth.headers.get('retry-after')).toBe('1');
    expect(((await fifth.json()) as { error: { code: string } }).error.code).toBe('ERR_FORWARD_BUSY');
    // Another address has its own share, up to the relay's bound.
    const others = [get('b'), get('c')];
    expect((await get('d')).status).toBe(503);
    // Answers free the slots.
    await expect.poll(() => waiting.length).toBe(6);
    for (const release of waiting.splice(0)) release();
    for (const response of await Promise.all([...first, ...others]))
      expect(await response.text()).toBe('from the leader');
    const again = get('a');
    await expect.poll(() => waiting.length).toBe(1);
    for (const release of waiting.splice(0)) release();
    expect((await again).status).toBe(200);
    // A request that already passed through a follower is not passed on again.
    const bounced = await app.request('/api/runs/r1', { headers: { 'x-potluck-forwarded': '1' } });
    expect(bounced.status).toBe(503);
  });

  it('counts an upload only once its body has arrived, and drops one that trickles past the deadline', async () => {
    const forwarded: number[] = [];
    const app = new Hono();
    app.use(
      '/api/runs/*',
      forwardToLeader({
        leading: () => false,
        clientOf: (c) => c.req.header('x-test-client') ?? 'unknown',
        limits: { inFlight: 2, inFlightBytes: 1_000_000, inFlightPerAddress: 1 },
        bodyReadMs: 300,
        forward: async (_request, body) => {
          forwarded.push(body?.byteLength ?? -1);
          return new Response(null, { status: 204 });
        },
      }),
    );
    /** An upload whose body sends one byte and then nothing, as a slowloris does. */
    const trickling = (client: string) =>
      app.request('/api/runs/r1/rounds/3/frames/x', {
        method: 'PUT',
        headers: { 'x-test-client': client },
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new Uint8Array(1));
          },
        }),
        duplex: 'half',
      } as RequestInit);
    const stalled = [trickling('a'), trickling('b'), trickling('c')];
    // While they trickle, more than the bound's worth of honest uploads go through, one address each.
    for (const client of ['d', 'e', 'f']) {
      const honest = await app.request('/api/runs/r1/rounds/3/frames/y', {
        method: 'PUT',
        headers: { 'x-test-client': client, 'content-length': '2156' },
        body: new Uint8Array(2156),
      });
      expect(honest.status).toBe(204);
    }
    expect(forwarded).toEqual([2156, 2156, 2156]);
    for (const response of await Promise.all(stalled)) {
      expect(response.status).toBe(408);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('ERR_BODY_TIMEOUT');
    }
    expect(forwarded).toHaveLength(3);
  });

  it('bounds the bytes of uploads waiting on the leader', async () => {
    const waiting: (() => void)[] = [];
    const app = new Hono();
    app.use(
      '/api/runs/*',
      forwardToLeader({
        leading: () => false,
        clientOf: (c) => c.req.header('x-test-client') ?? 'unknown',
        limits: { inFlight: 100, inFlightBytes: 25_000_000, inFlightPerAddress: 4 },
        forward: () =>
          new Promise<Response>((resolve) =>
            waiting.push(() => resolve(new Response(null, { status: 204 }))),
          ),
      }),
    );
    const put = (client: string, bytes: number) =>
      app.request(`/api/runs/r1/rounds/3/local-state/${client}`, {
        method: 'PUT',
        headers: { 'x-test-client': client },
        body: new Uint8Array(bytes),
      });
    // Two 10 MB state uploads from two addresses fit; a third does not, though the count would.
    const two = [put('a', 10_000_000), put('b', 10_000_000)];
    await expect.poll(() => waiting.length).toBe(2);
    expect((await put('c', 10_000_000)).status).toBe(503);
    // Small frames still pass beside them.
    const small = put('d', 2_000);
    await expect.poll(() => waiting.length).toBe(3);
    for (const release of waiting.splice(0)) release();
    for (const response of await Promise.all([...two, small])) expect(response.status).toBe(204);
  });
});
