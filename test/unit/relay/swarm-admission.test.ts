// Who gets a /swarm session, tested with clients that speak the real protocol (SwarmClient,
// real keys, real stamps) against a real relay: the identity stamp at hello, live connections
// per address and per /24 or /48 (HTTP 429), identities new to the relay per address and
// network per hour (ERR_SWARM_IDENTITY_RATE), and names unique in the run after normalization
// (ERR_SWARM_NAME_TAKEN). The relay trusts x-forwarded-for here, so one loopback process can
// come from many addresses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { checkStamp } from '../../../protocol/identity-stamp.ts';
import { helloMessage } from '../../../protocol/swarm-signing.ts';
import type { RelayHandle } from '../../../relay/server.ts';
import { generateKeyPair, identityFromKeyPair, type PeerIdentity } from '../../../web/src/peer/identity.ts';
import type { StampSource } from '../../../web/src/peer/kept-stamp.ts';
import { SwarmClient, SwarmClientError, type SwarmSocket } from '../../../web/src/peer/swarm-client.ts';
import { smallDataset, startTestRelay, TEST_STAMP_BITS } from '../../helpers/test-relay.ts';
import { freshStamps } from '../../helpers/test-stamps.ts';

const LIMITS = {
  trustedProxyHeader: 'x-forwarded-for',
  maxSessionsPerAddress: 2,
  maxSessionsPerPrefix: 3,
  newIdentitiesPerAddress: 3,
  newIdentitiesPerPrefix: 5,
};

let relay: RelayHandle;
let swarmUrl = '';
const open: SwarmClient[] = [];

beforeAll(async () => {
  relay = await startTestRelay(await smallDataset(), { swarmLimits: LIMITS });
  swarmUrl = `${relay.url.replace('http', 'ws')}/swarm`;
});
afterAll(async () => {
  for (const client of open) client.close();
  await relay?.close();
});

const newIdentity = async () => identityFromKeyPair(await generateKeyPair());

/** Joins from `address` as `identity` (a new one by default); the client, or the relay's refusal code. */
async function join(
  address: string,
  options: { identity?: PeerIdentity; name?: string; stamps?: StampSource } = {},
): Promise<SwarmClient | string> {
  const identity = options.identity ?? (await newIdentity());
  try {
    const client = await SwarmClient.connect({
      url: swarmUrl,
      identity,
      stamps: options.stamps ?? freshStamps(identity.publicKey),
      name: options.name ?? `v-${identity.publicKey.slice(0, 10)}`,
      platform: 'node',
      socket: (url) =>
        new WebSocket(url, { headers: { 'x-forwarded-for': address } }) as unknown as SwarmSocket,
    });
    open.push(client);
    return client;
  } catch (error) {
    if (error instanceof SwarmClientError) return error.refusal ?? error.message;
    throw error;
  }
}

/** The HTTP status and body an upgrade from `address` is answered with, or 101. */
function upgradeStatus(address: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(swarmUrl, { headers: { 'x-forwarded-for': address } });
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

describe('identity stamps at hello', () => {
  /** The refusal a hello from a fresh key gets with `stamp` computed from the challenge. */
  function helloWith(stamp: (challenge: { runId: string; stampBits: number }, key: string) => unknown) {
    return new Promise<string | undefined>((resolve) => {
      const ws = new WebSocket(swarmUrl, { headers: { 'x-forwarded-for': '192.0.2.200' } });
      let code: string | undefined;
      ws.on('message', async (data) => {
        const message = JSON.parse(data.toString());
        if (message.type === 'challenge') {
          const me = await newIdentity();
          const signature = await me.sign(helloMessage(message.runId, message.nonce));
          const hello = { type: 'hello', publicKey: me.publicKey, signature, platform: 'node' };
          ws.send(JSON.stringify({ ...hello, stamp: await stamp(message, me.publicKey) }));
        } else if (message.type === 'error') code = message.code;
        else if (message.type === 'welcome') code = 'welcome';
        if (code) ws.close();
      });
      ws.on('error', () => {});
      ws.on('close', () => resolve(code));
    });
  }

  it('announces the run difficulty and refuses a missing, malformed, short or misbound stamp', async () => {
    const cases: [string, Parameters<typeof helloWith>[0]][] = [
      ['ERR_SWARM_STAMP_MISSING', () => undefined],
      ['ERR_SWARM_STAMP_MALFORMED', () => '-12'],
      ['ERR_SWARM_STAMP_MALFORMED', () => '007'],
      // A counter that has too few bits for this key and run (searched for one that does).
      ['ERR_SWARM_STAMP_WEAK', (c, key) => weakCounter(c.runId, key, c.stampBits)],
      [
        'ERR_SWARM_STAMP_WEAK',
        (c, key) => misbound(c, key, async () => (await newIdentity()).publicKey, c.runId),
      ],
      ['ERR_SWARM_STAMP_WEAK', (c, key) => misbound(c, key, async () => key, `other-run-${Math.random()}`)],
      ['welcome', async (c, key) => freshStamps(key)(c.runId, c.stampBits)],
    ];
    for (const [code, stamp] of cases) expect(await helloWith(stamp)).toBe(code);
    expect((await relay.run.summary()).stampBits).toBe(TEST_STAMP_BITS);
  });
});

/** A counter whose stamp for `key` on `runId` falls short of `bits`. */
function weakCounter(runId: string, key: string, bits: number): string {
  for (let i = 0; ; i++) if (!checkStamp(runId, key, String(i), bits).ok) return String(i);
}

/**
 * A valid stamp for another key or run that is short for `key` on the challenge's run (one in
 * 2^bits would pass by chance: those are skipped, so the test is not flaky).
 */
async function misbound(
  challenge: { runId: string; stampBits: number },
  key: string,
  otherKey: () => Promise<string>,
  otherRun: string,
): Promise<string> {
  for (;;) {
    const stamp = await freshStamps(await otherKey())(otherRun, challenge.stampBits);
    if (!checkStamp(challenge.runId, key, stamp, challenge.stampBits).ok) return stamp;
  }
}

describe('connections per address and per network', () => {
  it('refuses a third connection from one address with HTTP 429, and takes it once one closes', async () => {
    const first = await join('198.51.100.1');
    const second = await join('198.51.100.1');
    expect(first).toBeInstanceOf(SwarmClient);
    expect(second).toBeInstanceOf(SwarmClient);
    const refused = await upgradeStatus('198.51.100.1');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatch(/too many connections from 198\.51\.100\.1 \(at most 2\)/);
    (first as SwarmClient).close();
    await expect.poll(async () => (await upgradeStatus('198.51.100.1')).status).toBe(101);
  });

  it('counts a /24 and a /48 together, and other networks apart', async () => {
    for (const address of ['198.51.101.1', '198.51.101.2', '198.51.101.3'])
      expect(await join(address)).toBeInstanceOf(SwarmClient);
    expect(await upgradeStatus('198.51.101.4')).toMatchObject({ status: 429, body: /198\.51\.101\.0\/24/ });
    expect((await upgradeStatus('198.51.102.4')).status).toBe(101);
    for (const address of ['2001:db8:5:1::1', '2001:db8:5:2::1', '2001:db8:5:3::1'])
      expect(await join(address)).toBeInstanceOf(SwarmClient);
    expect((await upgradeStatus('2001:db8:5:ffff::9')).status).toBe(429);
    expect((await upgradeStatus('2001:db8:6::1')).status).toBe(101);
  });
});

describe('new identities per hour', () => {
  it('refuses a fourth new identity from one address; a known one still comes back', async () => {
    const known: PeerIdentity[] = [];
    for (let i = 0; i < 3; i++) {
      const identity = await newIdentity();
      known.push(identity);
      const client = await join('203.0.113.10', { identity });
      expect(client).toBeInstanceOf(SwarmClient);
      (client as SwarmClient).close(); // live-connection caps are not what this tests
    }
    expect(await join('203.0.113.10')).toBe('ERR_SWARM_IDENTITY_RATE');
    // Not new: a returning volunteer is never counted again.
    expect(await join('203.0.113.10', { identity: known[0] })).toBeInstanceOf(SwarmClient);
    expect(await join('203.0.113.11')).toBeInstanceOf(SwarmClient);
  });

  it('refuses new identities past the /24 quota, from addresses still under theirs', async () => {
    // 203.0.113.10 and .11 above already brought four new identities to this /24.
    const next = await join('203.0.113.12');
    expect(next).toBeInstanceOf(SwarmClient);
    (next as SwarmClient).close();
    expect(await join('203.0.113.13')).toBe('ERR_SWARM_IDENTITY_RATE');
    expect(await join('203.0.114.13')).toBeInstanceOf(SwarmClient);
  });
});

describe('names', () => {
  it('refuses a name another identity holds after normalization; the holder keeps it', async () => {
    const alice = await newIdentity();
    const first = await join('192.0.2.1', { identity: alice, name: 'Alice' });
    expect(first).toBeInstanceOf(SwarmClient);
    for (const [i, name] of ['Alice', 'ALICE', 'Ａｌｉｃｅ', ' alice ', 'аlice'].entries())
      expect(await join(`192.0.2.${10 + i}`, { name }), name).toBe('ERR_SWARM_NAME_TAKEN');
    // The holder reconnecting (a reload) keeps its name, even after it left.
    (first as SwarmClient).close();
    expect(await join('192.0.2.1', { identity: alice, name: 'ALICE' })).toBeInstanceOf(SwarmClient);
    expect(await join('192.0.2.2', { name: 'Alicia' })).toBeInstanceOf(SwarmClient);
  });
});
