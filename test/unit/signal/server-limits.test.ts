// The server-wide limits: liveness, the connection cap, slow consumers, bounded memory over
// many connections, shutdown, and the metrics that report them.
import type { IncomingMessage } from 'node:http';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import WebSocket from 'ws';
import { drain, startSignal, TestClient } from './harness.ts';

it('drops a client that stops answering pings and keeps one that answers', async () => {
  // Short, but long enough that a busy test machine's event-loop stalls do not look like death.
  const harness = await startSignal({ pingIntervalMs: 250 });
  try {
    const deaf = await TestClient.open(harness.url, { autoPong: false });
    const alive = await TestClient.open(harness.url);
    deaf.send({ type: 'subscribe', topics: ['room'] });
    alive.send({ type: 'subscribe', topics: ['room'] });
    // Dropped without a close frame: the client sees an abnormal closure.
    expect((await deaf.closed).code).toBe(1006);
    expect(harness.signal.stats().refused.ERR_SIGNAL_UNRESPONSIVE).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 750)); // three more pings
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    await expect.poll(() => harness.signal.stats()).toMatchObject({ connections: 1, topics: 1 });
  } finally {
    await harness.close();
  }
});

it('refuses upgrades beyond maxConnections with HTTP 503', async () => {
  const harness = await startSignal({ maxConnections: 2 });
  try {
    const first = await TestClient.open(harness.url);
    await TestClient.open(harness.url);
    const refused = new WebSocket(harness.url);
    const status = await new Promise<number>((resolve, reject) => {
      refused.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      refused.on('open', () => reject(new Error('a third connection was accepted')));
    });
    expect(status).toBe(503);
    expect(harness.signal.stats().refused.ERR_SIGNAL_CAPACITY).toBe(1);
    first.close();
    await expect.poll(() => harness.signal.stats().connections).toBe(1);
    await TestClient.open(harness.url); // room again
  } finally {
    await harness.close();
  }
});

/** Clients say their address in a header, as a trusted proxy would. */
const headerAddress = (request: IncomingMessage) => String(request.headers['x-test-address'] ?? 'none');
const from = (address: string) => ({ headers: { 'x-test-address': address } });

it('refuses upgrades beyond maxConnectionsPerAddress with HTTP 429, for that address only', async () => {
  const harness = await startSignal({ maxConnectionsPerAddress: 2, addressOf: headerAddress });
  try {
    const first = await TestClient.open(harness.url, from('10.0.0.1'));
    await TestClient.open(harness.url, from('10.0.0.1'));
    const refused = new WebSocket(harness.url, from('10.0.0.1'));
    const status = await new Promise<number>((resolve, reject) => {
      refused.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      refused.on('open', () => reject(new Error('a third connection from one address was accepted')));
    });
    expect(status).toBe(429);
    expect(harness.signal.stats().refused.ERR_SIGNAL_ADDRESS_LIMIT).toBe(1);
    await TestClient.open(harness.url, from('10.0.0.2')); // another address has its own share
    first.close();
    await expect.poll(() => harness.signal.stats().connections).toBe(2);
    await TestClient.open(harness.url, from('10.0.0.1')); // room again
  } finally {
    await harness.close();
  }
});

it("passes an address's publishes to the other relays up to its share, and delivers the rest locally", async () => {
  const bridged: string[] = [];
  const harness = await startSignal({
    addressOf: headerAddress,
    bridgeBytesPerSecondPerAddress: 1,
    bridgeBurstBytesPerAddress: 3_000,
    onPublish: (_topic, text) => bridged.push(text),
  });
  try {
    const [flooder, listener, honest] = await Promise.all([
      TestClient.open(harness.url, from('10.0.0.1')),
      TestClient.open(harness.url, from('10.0.0.1')),
      TestClient.open(harness.url, from('10.0.0.2')),
    ]);
    listener.send({ type: 'subscribe', topics: ['room'] });
    await listener.sync();
    const offer = (n: number) => ({ type: 'publish', topic: 'room', data: `${n}:${'x'.repeat(1_000)}` });
    for (let n = 0; n < 10; n++) flooder.send(offer(n));
    await flooder.sync();
    // Its burst held two of ten; the rest reached this relay's subscriber all the same.
    expect(bridged).toHaveLength(2);
    expect(harness.signal.stats().bridgeHeldBack).toBe(8);
    expect((await drain(listener)).length).toBe(10);
    // Another address's offer is not held back by the first one's flood.
    honest.send(offer(99));
    await honest.sync();
    expect(bridged).toHaveLength(3);
    expect(bridged[2]).toContain('"99:');
  } finally {
    await harness.close();
  }
});

it('drops a subscriber that stops reading, not the publisher', async () => {
  const harness = await startSignal({
    maxBufferedBytes: 256 * 1024,
    messagesPerSecond: 1e4,
    messageBurst: 1e4,
  });
  try {
    const [slow, publisher] = await Promise.all([TestClient.open(harness.url), TestClient.open(harness.url)]);
    slow.send({ type: 'subscribe', topics: ['room'] });
    await slow.sync();
    slow.ws.pause(); // stops reading its socket: the kernel buffers fill, then the relay's
    const big = JSON.stringify({ type: 'publish', topic: 'room', data: 'x'.repeat(60_000) });
    for (let i = 0; i < 200 && !harness.signal.stats().refused.ERR_SIGNAL_SLOW_CONSUMER; i++) {
      publisher.send(big);
      await publisher.sync();
    }
    expect(harness.signal.stats().refused.ERR_SIGNAL_SLOW_CONSUMER).toBe(1);
    expect(publisher.ws.readyState).toBe(WebSocket.OPEN);
    expect(harness.signal.stats()).toMatchObject({ connections: 1, topics: 0 });
  } finally {
    await harness.close();
  }
});

it('holds nothing after 2,000 connect/subscribe/disconnect cycles', async () => {
  const harness = await startSignal({ maxConnections: 100 });
  try {
    const cycle = async (i: number) => {
      const client = await TestClient.open(harness.url);
      client.send({ type: 'subscribe', topics: [`own-${i}`, `shared-${i % 10}`, 'lobby'] });
      if (i % 3 === 0) client.send({ type: 'unsubscribe', topics: ['lobby'] });
      await client.sync();
      // Half leave politely, half vanish (the server sees the TCP connection drop).
      if (i % 2 === 0) client.close();
      else client.ws.terminate();
      await client.closed;
    };
    for (let batch = 0; batch < 2_000; batch += 50)
      await Promise.all(Array.from({ length: 50 }, (_, i) => cycle(batch + i)));
    await expect
      .poll(() => harness.signal.stats())
      .toMatchObject({ connections: 0, pendingUpgrades: 0, topics: 0 });
    expect(harness.signal.stats().refused).toEqual({});
  } finally {
    await harness.close();
  }
});

it('closes clients with 1001 on close(), twice safely, and refuses upgrades after', async () => {
  const harness = await startSignal();
  const client = await TestClient.open(harness.url);
  await Promise.all([harness.signal.close(), harness.signal.close()]);
  expect(await client.closed).toEqual({ code: 1001, reason: 'ERR_SIGNAL_CLOSED' });
  const late = new WebSocket(harness.url);
  const status = await new Promise<number>((resolve) =>
    late.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0)),
  );
  expect(status).toBe(503);
  await harness.close();
});

it('reports to a prom-client registry and logs through pino', async () => {
  const registry = new Registry();
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  const harness = await startSignal({ registry, logger });
  try {
    const client = await TestClient.open(harness.url);
    client.send({ type: 'subscribe', topics: ['room'] });
    client.send({ type: 'publish', topic: 'room', data: 1 });
    await client.next();
    await client.sync();
    const offender = await TestClient.open(harness.url);
    offender.send('nonsense');
    await offender.closed;
    // A refused socket counts until its TCP connection is gone.
    await expect.poll(() => harness.signal.stats().connections).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain('potluck_signal_connections 1');
    expect(text).toContain('potluck_signal_topics 1');
    expect(text).toContain('potluck_signal_messages_in_total 4');
    expect(text).toContain('potluck_signal_messages_out_total 2');
    expect(text).toContain('potluck_signal_refused_total{code="ERR_SIGNAL_JSON"} 1');
    expect(lines.some((line) => line.includes('"code":"ERR_SIGNAL_JSON"'))).toBe(true);
  } finally {
    await harness.close();
  }
});

it('answers upgrades for other paths with 404', async () => {
  const harness = await startSignal();
  try {
    const stray = new WebSocket(harness.url.replace('/signal', '/elsewhere'));
    const status = await new Promise<number>((resolve) =>
      stray.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0)),
    );
    expect(status).toBe(404);
  } finally {
    await harness.close();
  }
});
