// The relay behind a reverse proxy (test/helpers/reverse-proxy.ts, what the README's nginx
// block does): the API, a /swarm handshake to welcome and a /signal subscription work through
// it, and with `trustedProxyHeader` the per-address caps count the address the proxy saw, not
// the proxy's own (every connection reaches the relay from 127.0.0.1) nor one the client
// claims. Clients connect from other loopback addresses (127.0.0.2, …) to be told apart.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { RelayHandle } from '../../../relay/server.ts';
import { generateKeyPair, identityFromKeyPair } from '../../../web/src/peer/identity.ts';
import { SwarmClient, type SwarmSocket } from '../../../web/src/peer/swarm-client.ts';
import { type ReverseProxy, startReverseProxy } from '../../helpers/reverse-proxy.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';
import { freshStamps } from '../../helpers/test-stamps.ts';
import { TestClient } from '../signal/harness.ts';

let relay: RelayHandle;
let proxy: ReverseProxy;
let wsUrl = '';
const open: { close(): void }[] = [];

beforeAll(async () => {
  relay = await startTestRelay(await smallDataset(), {
    swarmLimits: { trustedProxyHeader: 'x-forwarded-for', maxSessionsPerAddress: 1 },
  });
  proxy = await startReverseProxy(relay.url);
  wsUrl = proxy.url.replace('http', 'ws');
});
afterAll(async () => {
  for (const client of open) client.close();
  await proxy?.close();
  await relay?.close();
});

/** A /swarm session through the proxy from `localAddress`, authenticated to welcome. */
async function joinFrom(localAddress: string): Promise<SwarmClient> {
  const identity = await identityFromKeyPair(await generateKeyPair());
  const client = await SwarmClient.connect({
    url: `${wsUrl}/swarm`,
    identity,
    stamps: freshStamps(identity.publicKey),
    name: `proxied-${identity.publicKey.slice(0, 8)}`,
    platform: 'node',
    socket: (url) => new WebSocket(url, { localAddress }) as unknown as SwarmSocket,
  });
  open.push(client);
  return client;
}

/** The status an upgrade of /swarm through the proxy gets (101 or the relay's refusal), and its body. */
function upgradeFrom(localAddress: string, claimed?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const headers = claimed ? { 'x-forwarded-for': claimed } : {};
    const ws = new WebSocket(`${wsUrl}/swarm`, { localAddress, headers });
    ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.on('error', () => {});
  });
}

it('serves the API through the proxy', async () => {
  const response = await fetch(`${proxy.url}/api/runs/${relay.run.id}`);
  expect(response.status).toBe(200);
  expect(((await response.json()) as { id: string }).id).toBe(relay.run.id);
  expect((await fetch(`${proxy.url}/healthz`)).status).toBe(200);
});

it('passes a /signal subscription through', async () => {
  const [a, b] = await Promise.all([TestClient.open(`${wsUrl}/signal`), TestClient.open(`${wsUrl}/signal`)]);
  open.push(a, b);
  a.send({ type: 'subscribe', topics: ['proxied-room'] });
  b.send({ type: 'subscribe', topics: ['proxied-room'] });
  await Promise.all([a.sync(), b.sync()]);
  a.send({ type: 'publish', topic: 'proxied-room', data: 'through the proxy' });
  expect(await b.next()).toEqual({
    type: 'publish',
    topic: 'proxied-room',
    data: 'through the proxy',
    clients: 2, // y-webrtc's server counts the topic's subscribers
  });
});

it('completes a /swarm handshake and counts the address the proxy forwarded', async () => {
  const first = await joinFrom('127.0.0.2');
  expect(first.peerId).toBeTruthy();
  // The cap is one connection per address: 127.0.0.2 is full, whatever it claims itself (the
  // proxy appends the address it saw, and the relay reads the last one) ...
  const again = await upgradeFrom('127.0.0.2');
  expect(again.status).toBe(429);
  expect(again.body).toContain('127.0.0.2');
  expect((await upgradeFrom('127.0.0.2', '198.51.100.7')).status).toBe(429);
  // ... while another client of the same proxy is a different address to the relay.
  const second = await joinFrom('127.0.0.3');
  expect(second.peerId).toBeTruthy();
  expect(second.peerId).not.toBe(first.peerId);
});
