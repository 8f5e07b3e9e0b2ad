// The welcome's relays end to end without a port: a relay's session (relay/swarm/session.ts) and
// a volunteer's SwarmClient joined by an in-memory socket pair. The session names the run's
// relays it is given (the valid ones, once each, at most the cap), or none when it is given no
// list; the client exposes what it was told; a hostile list from a relay fails the handshake
// with a typed error, and nothing throws.
import { expect, it } from 'vitest';
import { MAX_WELCOME_RELAYS } from '../../../protocol/relay-url.ts';
import { silentLogger } from '../../../relay/logger.ts';
import { SwarmSession } from '../../../relay/swarm/session.ts';
import type { SwarmCoordinator } from '../../../relay/swarm/swarm-coordinator.ts';
import { generateKeyPair, identityFromKeyPair } from '../../../web/src/peer/identity.ts';
import { SwarmClient, SwarmClientError, type SwarmSocket } from '../../../web/src/peer/swarm-client.ts';
import { freshStamps } from '../../helpers/test-stamps.ts';

const RELAY_KEY = `${'r'.repeat(42)}g`;

const coordinator: SwarmCoordinator = {
  kind: 'rounds',
  join: () => {},
  capabilities: () => {},
  ready: () => {},
  manifest: () => {},
  modelHash: () => {},
  stageNorm: () => {},
  stageReport: () => {},
  leave: () => {},
};

/**
 * A SwarmClient connected to a SwarmSession given `relayUrls`; `tamper` may rewrite the relay's
 * frames on their way, as a hostile relay would send them.
 */
async function connect(relayUrls?: () => readonly string[], tamper: (text: string) => string = (t) => t) {
  const identity = await identityFromKeyPair(await generateKeyPair());
  let session: SwarmSession | null = null;
  const client: SwarmSocket = {
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
    send: (text) => queueMicrotask(() => session?.receive(text)),
    close: (code = 1000, reason = '') =>
      queueMicrotask(() => {
        session?.ended();
        client.onclose?.({ code, reason });
      }),
  };
  const connected = SwarmClient.connect({
    url: 'ws://relay.test/swarm',
    identity,
    stamps: freshStamps(identity.publicKey),
    name: 'test',
    platform: 'node',
    socket: () => client,
    timeoutMs: 5_000,
  });
  session = new SwarmSession({
    socket: {
      send: (text) => queueMicrotask(() => client.onmessage?.({ data: tamper(text) })),
      close: (code, reason) => queueMicrotask(() => client.onclose?.({ code, reason })),
    },
    coordinator,
    runId: 'run-1',
    configHash: 'c'.repeat(64),
    relayKey: RELAY_KEY,
    iceServers: () => [],
    stampBits: 0,
    log: silentLogger,
    randomBytes: (n) => new Uint8Array(n).fill(7),
    admit: () => null,
    onAuthenticated: () => {},
    ...(relayUrls && { relayUrls }),
  });
  session.start();
  return connected;
}

it("tells the run's relays in the welcome, and the client exposes them", async () => {
  const relays = ['https://a.relay.test', 'https://b.relay.test:8443'];
  const client = await connect(() => relays);
  expect(client.relays).toEqual(relays);
  client.close();
});

it('names none when it is given no list', async () => {
  const client = await connect();
  expect(client.relays).toEqual([]);
  client.close();
});

it("sends only what a client can take of the operator's list", async () => {
  const many = Array.from({ length: 20 }, (_, i) => `https://relay-${i}.test`);
  const client = await connect(() => ['https://a.test/', 'javascript:alert(1)', 'https://a.test', ...many]);
  expect(client.relays).toEqual(['https://a.test', ...many].slice(0, MAX_WELCOME_RELAYS));
  client.close();
});

it("refuses a hostile relay's list: the handshake fails with a typed error, nothing throws", async () => {
  const hostile = (text: string) =>
    text.includes('"welcome"')
      ? JSON.stringify({ ...JSON.parse(text), relays: ['javascript:alert(1)'] })
      : text;
  const failed = await connect(() => ['https://a.test'], hostile).then(
    () => null,
    (error: unknown) => error,
  );
  expect(failed).toBeInstanceOf(SwarmClientError);
  expect(failed).toMatchObject({ code: 'ERR_SWARM_BAD_RELAY' });
  expect((failed as Error).message).toMatch(/ERR_SWARM_SCHEMA: relays\.0: a relay is http\(s\)/);
});
