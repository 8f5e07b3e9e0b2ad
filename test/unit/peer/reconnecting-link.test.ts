// The reconnecting /swarm link (web/src/peer/reconnecting-link.ts) over the real SwarmClient and
// a fake socket that plays the relay's side of the handshake, with the timers and the clock in
// the test's hands. A dropped connection stops the peer on it, waits the back-off, connects
// again with the same key and starts a fresh peer once the old one is idle; failed attempts
// wait longer each time; a healthy connection resets the back-off; a refusal that no retry
// changes (the key refused, another connection took the key over, the run gone) ends the link.
// With the run's relays (relay-rotation.ts), a relay that fails is left for the next at once,
// round the list, and the back-off waits only once every relay has failed in a row.
import { expect, it } from 'vitest';
import { generateKeyPair, identityFromKeyPair, type PeerIdentity } from '../../../web/src/peer/identity.ts';
import { Backoff } from '../../../web/src/peer/reconnect-backoff.ts';
import {
  type Attached,
  type LinkStatus,
  linkStatusText,
  ReconnectingLink,
} from '../../../web/src/peer/reconnecting-link.ts';
import { RelayRotation } from '../../../web/src/peer/relay-rotation.ts';
import { SwarmClient, type SwarmSocket } from '../../../web/src/peer/swarm-client.ts';
import { freshStamps } from '../../helpers/test-stamps.ts';

/** Canonical base64url of 32 bytes: its last character carries 4 bits, so not every letter fits. */
const RELAY_KEY = `${'r'.repeat(42)}g`;
const CONFIG_HASH = 'c'.repeat(64);
const NONCE = 'n'.repeat(43);

/** How the fake relay answers the next connection. */
type Answer = 'down' | 'welcome' | 'refuse-key' | { runId: string };

/** A socket whose far end is the test: it answers the handshake as `answer` says. */
class FakeSocket implements SwarmSocket {
  onopen: SwarmSocket['onopen'] = null;
  onmessage: SwarmSocket['onmessage'] = null;
  onclose: SwarmSocket['onclose'] = null;
  onerror: SwarmSocket['onerror'] = null;
  readonly sent: { type: string }[] = [];
  private open = true;

  constructor(
    private readonly answer: Answer,
    private readonly runId: string,
    /** The relays its welcome names, this one's first; none when undefined. */
    private readonly relays?: readonly string[],
  ) {
    queueMicrotask(() => {
      if (answer === 'down') return this.drop(1006, '');
      this.deliver({
        type: 'challenge',
        nonce: NONCE,
        runId: typeof answer === 'object' ? answer.runId : this.runId,
        relayKey: RELAY_KEY,
        iceServers: [],
        stampBits: 0,
      });
    });
  }

  send(data: string): void {
    const message = JSON.parse(data) as { type: string; publicKey?: string };
    this.sent.push(message);
    if (message.type !== 'hello') return;
    if (this.answer === 'refuse-key') {
      this.deliver({
        type: 'error',
        code: 'ERR_SWARM_SIGNATURE',
        message: 'the challenge signature does not verify',
      });
      this.drop(1008, 'ERR_SWARM_SIGNATURE');
      return;
    }
    const runId = typeof this.answer === 'object' ? this.answer.runId : this.runId;
    this.deliver({
      type: 'welcome',
      peerId: message.publicKey,
      runId,
      configHash: CONFIG_HASH,
      ...(this.relays && { relays: this.relays }),
    });
  }

  close(code = 1000, reason = ''): void {
    this.drop(code, reason);
  }

  /** The relay's end goes away: a kill gives 1006, a takeover 4001. */
  drop(code: number, reason: string): void {
    if (!this.open) return;
    this.open = false;
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }

  private deliver(message: object): void {
    if (this.open) this.onmessage?.({ data: JSON.stringify(message) });
  }
}

/** Timers the test fires by hand. */
function manualTimers() {
  const pending: { ms: number; fn: () => void; cancelled: boolean }[] = [];
  return {
    pending,
    schedule: (ms: number, fn: () => void) => {
      const timer = { ms, fn, cancelled: false };
      pending.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
    /** Fires the earliest live timer of `ms` (the back-off waits, or the healthy-connection one). */
    fire(ms: number): void {
      const timer = pending.find((t) => !t.cancelled && t.ms === ms);
      if (!timer) throw new Error(`no timer of ${ms} ms among ${JSON.stringify(this.live())}`);
      timer.cancelled = true;
      timer.fn();
    },
    live: () => pending.filter((t) => !t.cancelled).map((t) => t.ms),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

interface Harness {
  readonly link: ReconnectingLink<{ client: SwarmClient }>;
  readonly timers: ReturnType<typeof manualTimers>;
  readonly sockets: FakeSocket[];
  /** The URL each socket was opened for, in order. */
  readonly urls: string[];
  readonly answers: Answer[];
  readonly statuses: LinkStatus[];
  /** What each connection's peer saw: started, stopped (with why), went idle. */
  readonly peers: { stopped: string | null; idle: boolean; release: () => void }[];
}

/**
 * `relays`: the run's relays; each names them all in its welcome, itself first, and the link is
 * given a RelayRotation that starts at the first. Without them, one relay that names none.
 */
async function harness(
  identity: PeerIdentity,
  { healthyMs = 10_000, relays }: { healthyMs?: number; relays?: readonly string[] } = {},
): Promise<Harness> {
  const timers = manualTimers();
  const sockets: FakeSocket[] = [];
  const urls: string[] = [];
  const answers: Answer[] = [];
  const statuses: LinkStatus[] = [];
  const peers: Harness['peers'] = [];
  const rotation = relays && new RelayRotation(relays[0] as string);
  const connect = async () => ({
    client: await SwarmClient.connect({
      url: rotation ? `${rotation.current.replace(/^http/, 'ws')}/swarm` : 'ws://relay/swarm',
      identity,
      stamps: freshStamps(identity.publicKey),
      name: 'test',
      platform: 'node',
      socket: (url) => {
        const base = url.replace(/^ws/, 'http').replace(/\/swarm$/, '');
        const named = relays && [base, ...relays.filter((relay) => relay !== base)];
        const socket = new FakeSocket(answers.shift() ?? 'welcome', 'run-1', named);
        sockets.push(socket);
        urls.push(url);
        return socket;
      },
    }),
  });
  const attach = async (): Promise<Attached> => {
    // Its work ends only when the test says: the next peer must wait for it.
    let release = () => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const peer = { stopped: null as string | null, idle: false, release };
    peers.push(peer);
    return {
      stop: (reason) => {
        peer.stopped ??= reason;
      },
      idle: async () => {
        await done;
        peer.idle = true;
      },
    };
  };
  const link = await ReconnectingLink.start(await connect(), {
    connect,
    attach,
    onStatus: (status) => statuses.push(status),
    // Another relay is tried after 50 ms (the middle of a 100 ms spread), the back-off from 500 ms.
    backoff: new Backoff({ random: () => 0.5, spreadMs: 100 }),
    healthyMs,
    now: () => 1_000_000,
    schedule: timers.schedule,
    ...(rotation && { relays: rotation }),
  });
  return { link, timers, sockets, urls, answers, statuses, peers };
}

const identity = async () => identityFromKeyPair(await generateKeyPair());

it('rejoins after the relay dies: back-off grows while it is down, a fresh peer once the old is idle', async () => {
  const h = await harness(await identity());
  expect(h.statuses).toEqual([{ state: 'connected', connections: 1 }]);
  // The relay is killed; it stays down for two attempts.
  h.answers.push('down', 'down', 'welcome');
  h.sockets[0]?.drop(1006, '');
  await settle();
  expect(h.peers[0]?.stopped).toBe('the connection to the relay dropped');
  expect(h.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1, at: 1_000_500 });
  expect(linkStatusText(h.statuses.at(-1) as LinkStatus, 1_000_000)).toMatch(
    /^reconnecting to the relay \(connection lost \(1006\)\): attempt 1 at \d\d:\d\d:\d\d, in 1 s$/,
  );
  h.timers.fire(500);
  await settle();
  expect(h.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 2, at: 1_001_000 });
  h.timers.fire(1_000);
  await settle();
  expect(h.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 3, at: 1_002_000 });
  h.timers.fire(2_000);
  await settle();
  // Welcomed again, but the round the old peer abandoned is still unwinding: no new peer yet.
  expect(h.peers).toHaveLength(1);
  h.peers[0]?.release();
  await settle();
  expect(h.peers[0]?.idle).toBe(true);
  expect(h.peers).toHaveLength(2);
  expect(h.statuses.at(-1)).toEqual({ state: 'connected', connections: 2 });
  // The same key answered every challenge.
  const keys = h.sockets.flatMap((s) => s.sent.filter((m) => m.type === 'hello'));
  expect(new Set(keys.map((m) => (m as { publicKey?: string }).publicKey)).size).toBe(1);
  expect(h.link.connection.client.runId).toBe('run-1');

  // Dropped again before it proved healthy: the back-off goes on growing...
  h.sockets.at(-1)?.drop(1006, '');
  await settle();
  expect(h.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 4, at: 1_004_000 });
  h.timers.fire(4_000);
  h.peers[1]?.release();
  await settle();
  expect(h.statuses.at(-1)).toEqual({ state: 'connected', connections: 3 });
  // ...and once a connection stayed up long enough, it starts again from 0.5 s.
  h.timers.fire(10_000);
  h.sockets.at(-1)?.drop(1001, 'relay shutting down');
  h.peers[2]?.release();
  await settle();
  expect(h.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1, at: 1_000_500 });

  // Leaving while it waits: no more attempts.
  await h.link.stop('the tab closed');
  expect(await h.link.ended).toBe('the tab closed');
  expect(h.statuses.at(-1)).toEqual({ state: 'stopped', reason: 'the tab closed', final: false });
  expect(h.timers.live()).toEqual([]);
});

it('stops for good when another connection takes the key over', async () => {
  const h = await harness(await identity());
  h.sockets[0]?.drop(4001, 'the same key connected again');
  h.peers[0]?.release();
  expect(await h.link.ended).toMatch(/another connection with this key took over/);
  expect(h.statuses.at(-1)).toMatchObject({ state: 'stopped', final: true });
  expect(linkStatusText(h.statuses.at(-1) as LinkStatus)).toMatch(/^stopped for good: .*Not retrying\.$/);
  expect(h.sockets).toHaveLength(1);
});

it('stops for good when the relay refuses the key on reconnecting', async () => {
  const h = await harness(await identity());
  h.answers.push('down', 'refuse-key');
  h.sockets[0]?.drop(1006, '');
  h.peers[0]?.release();
  await settle();
  h.timers.fire(500);
  await settle();
  h.timers.fire(1_000);
  expect(await h.link.ended).toMatch(/refused this volunteer: ERR_SWARM_SIGNATURE/);
  expect(h.statuses.at(-1)).toMatchObject({ state: 'stopped', final: true });
  expect(h.timers.live()).toEqual([]);
});

it('stops for good when the relay now serves another run', async () => {
  const h = await harness(await identity());
  h.answers.push({ runId: 'run-2' });
  h.sockets[0]?.drop(1006, '');
  h.peers[0]?.release();
  await settle();
  h.timers.fire(500);
  expect(await h.link.ended).toBe('run run-1 no longer exists on this relay (it now serves run run-2)');
  expect(h.peers).toHaveLength(1);
  // The connection to the other run was not left open.
  await settle();
  expect(h.sockets.at(-1)?.sent.at(-1)).toMatchObject({ type: 'leave' });
});

it('stop() while connected stops the peer, and the link ends without reconnecting', async () => {
  const h = await harness(await identity());
  const stopped = h.link.stop('leaving');
  expect(h.peers[0]?.stopped).toBe('leaving');
  // The peer's stop closes its client in real life; here the test closes the socket for it.
  h.sockets[0]?.drop(1000, 'leaving');
  h.peers[0]?.release();
  await stopped;
  expect(h.sockets).toHaveLength(1);
  expect(h.statuses.at(-1)).toEqual({ state: 'stopped', reason: 'leaving', final: false });
});

const A = 'http://relay-a.test:8787';
const B = 'http://relay-b.test:8787';
const C = 'http://relay-c.test:8787';
const swarmOf = (relay: string) => `${relay.replace(/^http/, 'ws')}/swarm`;

it("fails over to the run's next relay at once, goes round them all, then backs off", async () => {
  const h = await harness(await identity(), { relays: [A, B, C] });
  expect(h.link.connection.client.relays).toEqual([A, B, C]);
  // A dies; B and C are down too for a while, then C comes back.
  h.answers.push('down', 'down', 'down', 'down', 'welcome');
  h.sockets[0]?.drop(1006, '');
  h.peers[0]?.release();
  await settle();
  // The first retry goes to the next relay after a short spread, not the back-off.
  expect(h.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1, at: 1_000_050, relay: B });
  expect(linkStatusText(h.statuses.at(-1) as LinkStatus, 1_000_000)).toMatch(
    /^reconnecting to the relay at http:\/\/relay-b\.test:8787 \(connection lost \(1006\)\): attempt 1 at /,
  );
  h.timers.fire(50);
  await settle();
  expect(h.statuses.at(-1)).toMatchObject({ attempt: 2, at: 1_000_050, relay: C });
  h.timers.fire(50);
  await settle();
  // Every relay failed in a row: round the list again, waiting the back-off.
  expect(h.statuses.at(-1)).toMatchObject({ attempt: 3, at: 1_000_500, relay: A });
  h.timers.fire(500);
  await settle();
  expect(h.statuses.at(-1)).toMatchObject({ attempt: 4, at: 1_001_000, relay: B });
  h.timers.fire(1_000);
  await settle();
  expect(h.statuses.at(-1)).toMatchObject({ attempt: 5, at: 1_002_000, relay: C });
  h.timers.fire(2_000);
  await settle();
  expect(h.statuses.at(-1)).toEqual({ state: 'connected', connections: 2 });
  expect(h.urls).toEqual([A, B, C, A, B, C].map(swarmOf));
  expect(h.link.connection.client.relays).toEqual([C, A, B]);

  // Healthy on C, then C dies: straight on to the relay after it in C's own list.
  h.timers.fire(10_000);
  h.sockets.at(-1)?.drop(1006, '');
  h.peers[1]?.release();
  await settle();
  expect(h.statuses.at(-1)).toMatchObject({ attempt: 1, at: 1_000_050, relay: A });
  h.timers.fire(50);
  await settle();
  expect(h.statuses.at(-1)).toEqual({ state: 'connected', connections: 3 });
  expect(h.urls.at(-1)).toBe(swarmOf(A));
  const stopped = h.link.stop('done');
  h.sockets.at(-1)?.drop(1000, 'done'); // the peer's stop closes its client in real life
  h.peers[2]?.release();
  await stopped;
});

it('counts a relay that drops its connection before it proved healthy as failed: no spinning', async () => {
  const h = await harness(await identity(), { relays: [A, B] });
  h.sockets[0]?.drop(1006, '');
  h.peers[0]?.release();
  await settle();
  expect(h.statuses.at(-1)).toMatchObject({ attempt: 1, at: 1_000_050, relay: B });
  h.timers.fire(50);
  await settle();
  expect(h.statuses.at(-1)).toEqual({ state: 'connected', connections: 2 });
  // B welcomed, then crashed at once: both relays failed in a row, so the back-off waits.
  h.sockets.at(-1)?.drop(1006, '');
  h.peers[1]?.release();
  await settle();
  expect(h.statuses.at(-1)).toMatchObject({ attempt: 2, at: 1_000_500, relay: A });
  await h.link.stop('done');
});

it('stops for good when another relay refuses the key', async () => {
  const h = await harness(await identity(), { relays: [A, B, C] });
  h.answers.push('refuse-key');
  h.sockets[0]?.drop(1006, '');
  h.peers[0]?.release();
  await settle();
  h.timers.fire(50);
  expect(await h.link.ended).toMatch(/refused this volunteer: ERR_SWARM_SIGNATURE/);
  expect(h.statuses.at(-1)).toMatchObject({ state: 'stopped', final: true });
  expect(h.urls).toEqual([swarmOf(A), swarmOf(B)]);
  expect(h.timers.live()).toEqual([]);
});

it('stops for good when the relay it fails over to takes the key over from another connection', async () => {
  const h = await harness(await identity(), { relays: [A, B] });
  h.sockets[0]?.drop(1006, '');
  h.peers[0]?.release();
  await settle();
  h.timers.fire(50);
  await settle();
  h.sockets.at(-1)?.drop(4001, 'the same key connected again');
  h.peers[1]?.release();
  expect(await h.link.ended).toMatch(/another connection with this key took over/);
  expect(h.sockets).toHaveLength(2);
});
