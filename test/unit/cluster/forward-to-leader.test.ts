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
        limits: { inFlight: 6, inFlightPerAddress: 4 },
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
});
