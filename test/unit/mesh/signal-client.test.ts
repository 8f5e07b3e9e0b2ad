// The /signal client against the relay's real signal server: subscribe, publish (echoed to
// the sender too), queue while connecting, resubscribe after a reconnect, and reconnect to
// the relay in use when a run's relays fail over.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PublishMessage } from '../../../protocol/signal-messages.ts';
import { SignalClient } from '../../../web/src/peer/signal-client.ts';
import { type Relay, startRelay, until, wsFactory } from './mesh-harness.ts';

let relay: Relay;
const clients: SignalClient[] = [];

beforeAll(async () => {
  relay = await startRelay();
});

afterAll(async () => {
  for (const client of clients) client.close();
  await relay?.close();
});

function client(options: Partial<ConstructorParameters<typeof SignalClient>[0]> = {}) {
  const sockets: ReturnType<typeof wsFactory>[] = [];
  const socket = (url: string) => {
    const made = wsFactory(url);
    sockets.push(made);
    return made;
  };
  const made = new SignalClient({ url: relay.url, socket, ...options });
  const received: PublishMessage[] = [];
  made.onPublish((message) => received.push(message));
  clients.push(made);
  return { client: made, received, sockets };
}

it('delivers publishes to every subscriber of the topic, the sender included', async () => {
  const a = client();
  const b = client();
  // Subscribed before the socket opened: sent on open, and ready() waits for the relay to have it.
  a.client.subscribe('t1');
  b.client.subscribe('t1');
  await Promise.all([a.client.ready(), b.client.ready()]);
  a.client.publish('t1', { hello: 1, type: 'not-overridable', topic: 'nor-this' });
  await until(() => a.received.length === 1 && b.received.length === 1, 5_000, 'publishes');
  expect(b.received[0]).toMatchObject({ type: 'publish', topic: 't1', hello: 1 });
  b.client.unsubscribe('t1');
  a.client.publish('t1', { hello: 2 });
  await until(() => a.received.length === 2, 5_000, 'the second publish');
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(b.received).toHaveLength(1);
});

it('queues publishes while disconnected and subscribes again after a reconnect', async () => {
  const a = client({ reconnectDelayMs: 20 });
  const b = client();
  a.client.subscribe('t2');
  b.client.subscribe('t2');
  await Promise.all([a.client.ready(), b.client.ready()]);
  // The connection dies under a (no close handshake); a comes back on its own.
  const before = relay.signal.stats().connections;
  a.sockets.at(-1)?.terminate();
  await until(() => !a.client.connected, 5_000, 'the drop');
  a.client.publish('t2', { queued: true });
  await a.client.ready();
  expect(relay.signal.stats().connections).toBe(before);
  await until(() => b.received.some((m) => m.queued === true), 5_000, 'the queued publish');
  // Its subscription came back with it.
  b.client.publish('t2', { after: true });
  await until(() => a.received.some((m) => m.after === true), 5_000, 'a publish to a');
  await a.client.sync();
});

it('reconnects to the relay in use when it is given what names it', async () => {
  const other = await startRelay();
  try {
    let current = relay.url;
    const a = client({ url: () => current, reconnectDelayMs: 20 });
    a.client.subscribe('t3');
    await a.client.ready();
    expect(relay.signal.stats().connections).toBeGreaterThan(0);
    // The first relay is gone for this client; the run's next relay is the one in use now.
    current = other.url;
    a.sockets.at(-1)?.terminate();
    await until(() => !a.client.connected, 5_000, 'the drop');
    await a.client.ready();
    expect(a.sockets.at(-1)?.url).toBe(other.url);
    const b = client({ url: other.url });
    await b.client.ready();
    b.client.publish('t3', { moved: true });
    await until(() => a.received.some((m) => m.moved === true), 5_000, 'a publish on the other relay');
    a.client.close();
    b.client.close();
  } finally {
    await other.close();
  }
});

it('is closed for good by close(), which is safe twice', async () => {
  const { client: c } = client();
  await c.ready();
  c.close();
  c.close();
  expect(c.connected).toBe(false);
  await c.ready(); // resolves at once rather than hanging
  c.publish('t', {}); // ignored
});

it('refuses a URL that is not ws:// or wss://', () => {
  expect(() => new SignalClient({ url: 'http://localhost/signal', socket: wsFactory })).toThrow(RangeError);
});
