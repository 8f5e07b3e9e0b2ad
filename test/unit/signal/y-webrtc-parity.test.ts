// Subscribe, publish, unsubscribe and ping behave exactly as with y-webrtc's own server: the
// same script against both gives the same messages, `clients` counts included.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { drain, type Harness, startSignal, TestClient } from './harness.ts';

const Y_WEBRTC_SERVER = new URL('../../../node_modules/y-webrtc/bin/server.js', import.meta.url).pathname;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

let ours: Harness;
let theirs: ChildProcess;
let theirsUrl = '';

beforeAll(async () => {
  ours = await startSignal();
  const port = await freePort();
  theirs = spawn(process.execPath, [Y_WEBRTC_SERVER], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // It prints one line once listening.
  await once(theirs.stdout ?? theirs, 'data');
  theirsUrl = `ws://127.0.0.1:${port}`;
});

afterAll(async () => {
  await ours?.close();
  theirs?.kill();
});

/** The script: three clients, two rooms; returns what each saw after each step. */
async function transcript(url: string): Promise<unknown[]> {
  const [a, b, c] = await Promise.all([TestClient.open(url), TestClient.open(url), TestClient.open(url)]);
  const clients = new Map([
    ['a', a],
    ['b', b],
    ['c', c],
  ]);
  const log: unknown[] = [];
  const step = async (name: string, act: () => void) => {
    act();
    for (const [who, client] of clients) log.push([name, who, await drain(client)]);
  };
  await step('subscribe', () => {
    a.send({ type: 'subscribe', topics: ['r1', 'r2'] });
    b.send({ type: 'subscribe', topics: ['r1'] });
    c.send({ type: 'subscribe', topics: ['r2', 'r2'] });
  });
  await step('publish to a room of two', () =>
    a.send({ type: 'publish', topic: 'r1', data: { type: 'announce', from: 'a' } }),
  );
  await step('publish from outside the room', () => c.send({ type: 'publish', topic: 'r1', data: 'AAEC' }));
  await step('publish with extra fields and own clients', () =>
    c.send({
      type: 'publish',
      topic: 'r2',
      clients: 99,
      data: { to: 'a', signal: { type: 'offer' } },
      x: [1],
    }),
  );
  await step('unsubscribe', () => b.send({ type: 'unsubscribe', topics: ['r1', 'never-joined'] }));
  await step('publish after unsubscribe', () => a.send({ type: 'publish', topic: 'r1', data: 1 }));
  await step('publish to an empty room', () => b.send({ type: 'publish', topic: 'r1', data: 2 }));
  await step('publish to nobody', () => b.send({ type: 'publish', topic: 'nobody', data: 3 }));
  a.close();
  await a.closed;
  clients.delete('a');
  // The client sees the close before the server has dropped it from its rooms: probe (off
  // the record) until r2 counts one client, so both servers are compared in the same state.
  for (let tries = 0; tries < 100; tries++) {
    c.send({ type: 'publish', topic: 'r2', data: 'probe' });
    const [echo] = await drain(c);
    if ((echo as { clients?: number } | undefined)?.clients === 1) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await step('publish after a member left', () => c.send({ type: 'publish', topic: 'r2', data: 4 }));
  b.close();
  c.close();
  return log;
}

it('matches y-webrtc bin/server.js message for message', async () => {
  const expected = await transcript(theirsUrl);
  const actual = await transcript(ours.url);
  expect(actual).toEqual(expected);
  // And it says what we think it says.
  expect(actual).toContainEqual([
    'publish to a room of two',
    'b',
    [{ type: 'publish', topic: 'r1', data: { type: 'announce', from: 'a' }, clients: 2 }],
  ]);
  expect(actual).toContainEqual([
    'publish after unsubscribe',
    'a',
    [{ type: 'publish', topic: 'r1', data: 1, clients: 1 }],
  ]);
  expect(actual).toContainEqual(['publish to an empty room', 'b', []]);
});

it('answers a ping with a pong and forgets a closed client', async () => {
  const client = await TestClient.open(ours.url);
  client.send({ type: 'subscribe', topics: ['solo'] });
  client.send({ type: 'ping' });
  expect(await client.next()).toEqual({ type: 'pong' });
  expect(ours.signal.stats()).toMatchObject({ connections: 1, topics: 1 });
  client.close();
  await client.closed;
  await expect.poll(() => ours.signal.stats()).toMatchObject({ connections: 0, topics: 0 });
});
