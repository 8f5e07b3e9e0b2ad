// Each kind of bad frame closes only the connection that sent it, with a stable code, while
// a bystander in the same room keeps publishing and receiving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignalRefusalCode } from '../../../relay/signal/index.ts';
import { type Harness, startSignal, TestClient } from './harness.ts';

const LIMITS = {
  maxFrameBytes: 4_096,
  maxTopicsPerMessage: 4,
  maxTopicsPerConnection: 6,
  messagesPerSecond: 20,
  messageBurst: 40,
};

let harness: Harness;
let peerA: TestClient;
let peerB: TestClient;

beforeAll(async () => {
  harness = await startSignal(LIMITS);
  [peerA, peerB] = await Promise.all([TestClient.open(harness.url), TestClient.open(harness.url)]);
  peerA.send({ type: 'subscribe', topics: ['room'] });
  peerB.send({ type: 'subscribe', topics: ['room'] });
  await Promise.all([peerA.sync(), peerB.sync()]);
});

afterAll(async () => {
  await harness?.close();
});

/** A publish from A reaches B (and A), so the room still works. */
async function roomStillWorks(): Promise<void> {
  peerA.send({ type: 'publish', topic: 'room', data: 'still here' });
  const expected = { type: 'publish', topic: 'room', data: 'still here', clients: 2 };
  expect(await peerB.next()).toEqual(expected);
  expect(await peerA.next()).toEqual(expected);
}

const bad = (text: string) => (client: TestClient) => client.send(text);
const cases: [string, (client: TestClient) => void, number, SignalRefusalCode][] = [
  ['malformed JSON', bad('{"type":"subscribe","topics":['), 1007, 'ERR_SIGNAL_JSON'],
  ['not an object', bad('[]'), 1007, 'ERR_SIGNAL_TYPE'],
  ['an unknown type', bad('{"type":"launch-missiles"}'), 1007, 'ERR_SIGNAL_TYPE'],
  ['topics of the wrong type', bad('{"type":"subscribe","topics":"room"}'), 1007, 'ERR_SIGNAL_SHAPE'],
  ['a topic of the wrong type', bad('{"type":"publish","topic":{"x":1}}'), 1007, 'ERR_SIGNAL_SHAPE'],
  [
    'a __proto__ key',
    bad('{"type":"publish","topic":"room","data":{"__proto__":{"admin":true}}}'),
    1007,
    'ERR_SIGNAL_PROTO',
  ],
  [
    'a topic too long',
    bad(JSON.stringify({ type: 'publish', topic: 'x'.repeat(257) })),
    1007,
    'ERR_SIGNAL_TOPIC_LENGTH',
  ],
  [
    'too many topics in one message',
    bad(JSON.stringify({ type: 'subscribe', topics: ['a', 'b', 'c', 'd', 'e'] })),
    1008,
    'ERR_SIGNAL_TOO_MANY_TOPICS',
  ],
  [
    'too many topics on one connection',
    (client) => {
      client.send({ type: 'subscribe', topics: ['a', 'b', 'c', 'room'] });
      client.send({ type: 'subscribe', topics: ['a', 'd', 'e', 'f'] });
    },
    1008,
    'ERR_SIGNAL_TOPIC_LIMIT',
  ],
  ['a binary frame', (client) => client.ws.send(Buffer.from('{"type":"ping"}')), 1003, 'ERR_SIGNAL_BINARY'],
  [
    'invalid UTF-8 in a text frame',
    (client) => client.ws.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false }),
    1007,
    'ERR_SIGNAL_WEBSOCKET',
  ],
  [
    'an oversized frame',
    bad(JSON.stringify({ type: 'publish', topic: 'room', data: 'x'.repeat(LIMITS.maxFrameBytes) })),
    1009,
    'ERR_SIGNAL_FRAME_TOO_LARGE',
  ],
  [
    'a flood',
    (client) => {
      for (let i = 0; i < 200; i++) client.send({ type: 'ping' });
    },
    1008,
    'ERR_SIGNAL_RATE',
  ],
];

describe('a bad frame closes only its sender', () => {
  it.each(cases)('%s', async (_name, misbehave, status, code) => {
    const before = harness.signal.stats().refused[code] ?? 0;
    const offender = await TestClient.open(harness.url);
    offender.send({ type: 'subscribe', topics: ['room'] });
    misbehave(offender);
    const closed = await offender.closed;
    expect(closed.code).toBe(status);
    // ws closes its own refusals (oversized, bad UTF-8) without a reason string.
    if (code !== 'ERR_SIGNAL_FRAME_TOO_LARGE' && code !== 'ERR_SIGNAL_WEBSOCKET')
      expect(closed.reason).toBe(code);
    expect(harness.signal.stats().refused[code]).toBe(before + 1);
    await expect.poll(() => harness.signal.stats().connections).toBe(2);
    // The offender left the room: A's publish counts two clients again.
    await roomStillWorks();
  });
});
