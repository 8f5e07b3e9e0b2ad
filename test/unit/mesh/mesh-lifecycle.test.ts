// Links come and go: a peer that leaves is reported down and refused as a destination, a
// wanted peer that comes back is reconnected, either side may want the other first, and a
// destroyed mesh says so with a code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PeerIdentity } from '../../../web/src/peer/identity.ts';
import { PeerMesh } from '../../../web/src/peer/mesh.ts';
import type { PeerDownReason } from '../../../web/src/peer/mesh-errors.ts';
import {
  closeAllPeers,
  connectAll,
  equalBytes,
  makePeer,
  newIdentity,
  pattern,
  type Relay,
  startRelay,
  until,
} from './mesh-harness.ts';

let relay: Relay;

beforeAll(async () => {
  relay = await startRelay();
});

afterAll(async () => {
  closeAllPeers();
  await relay?.close();
});

/** Two identities, the first with the smaller key (the initiator). */
async function orderedIdentities(): Promise<[PeerIdentity, PeerIdentity]> {
  const [x, y] = [await newIdentity(), await newIdentity()];
  return x.publicKey < y.publicKey ? [x, y] : [y, x];
}

it('reports a peer that disappears and refuses to send to it', async () => {
  const a = await makePeer(relay.url, 'life-leave');
  const b = await makePeer(relay.url, 'life-leave');
  await connectAll([a, b]);
  const downs: [string, PeerDownReason][] = [];
  a.mesh.onPeerDown((key, reason) => downs.push([key, reason]));
  b.close();
  await until(() => downs.length === 1, 20_000, 'peer down');
  expect(downs).toEqual([[b.mesh.id, 'closed']]);
  expect(a.mesh.connectedPeers).toEqual([]);
  await expect(a.mesh.send(b.mesh.id, pattern(10, 1))).rejects.toMatchObject({ code: 'ERR_MESH_NO_PEER' });
});

it('fails a message cut off by the peer leaving with ERR_MESH_PEER_CLOSED', async () => {
  const a = await makePeer(relay.url, 'life-cut');
  const b = await makePeer(relay.url, 'life-cut');
  await connectAll([a, b]);
  // 32 MiB cannot be queued at once (1 MiB high-water mark), so the send is mid-way when b goes.
  const sending = a.mesh.send(b.mesh.id, new Uint8Array(32 * 2 ** 20));
  b.close();
  await expect(sending).rejects.toMatchObject({ code: 'ERR_MESH_PEER_CLOSED' });
});

describe.each([
  ['the initiator', 0],
  ['the answerer', 1],
])('when %s wants the other first', (_name, first) => {
  it('they still connect once both want each other', async () => {
    const identities = await orderedIdentities();
    const early = await makePeer(relay.url, `life-late-${first}`, { identity: identities[first] });
    const late = await makePeer(relay.url, `life-late-${first}`, { identity: identities[1 - first] });
    early.mesh.connect([late.mesh.id]);
    // The late one ignores the early one's offers or requests until it wants it too.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(early.mesh.connectedPeers).toEqual([]);
    late.mesh.connect([early.mesh.id]);
    await late.mesh.waitForPeers([early.mesh.id], 20_000);
    await early.mesh.waitForPeers([late.mesh.id], 20_000);
    await late.mesh.send(early.mesh.id, pattern(100, 2));
    await until(() => early.inbox.get(late.mesh.id)?.length === 1);
  });
});

it('reconnects to a wanted peer that comes back', async () => {
  const [first, second] = await orderedIdentities();
  const a = await makePeer(relay.url, 'life-back', { identity: first, limits: { reconnectDelayMs: 100 } });
  const b = await makePeer(relay.url, 'life-back', { identity: second, limits: { reconnectDelayMs: 100 } });
  await connectAll([a, b]);
  b.close();
  await until(() => !a.mesh.isConnected(second.publicKey), 20_000, 'peer down');
  const back = await makePeer(relay.url, 'life-back', {
    identity: second,
    limits: { reconnectDelayMs: 100 },
  });
  back.mesh.connect([first.publicKey]);
  await a.mesh.waitForPeers([second.publicKey], 20_000);
  const message = pattern(300_000, 3);
  await a.mesh.send(second.publicKey, message);
  await until(() => back.inbox.get(first.publicKey)?.length === 1);
  expect(equalBytes(back.inbox.get(first.publicKey)?.[0], message)).toBe(true);
});

it('disconnect() closes the link on both sides and stops retrying', async () => {
  const a = await makePeer(relay.url, 'life-disconnect', { limits: { reconnectDelayMs: 50 } });
  const b = await makePeer(relay.url, 'life-disconnect', { limits: { reconnectDelayMs: 50 } });
  await connectAll([a, b]);
  const downs: PeerDownReason[] = [];
  a.mesh.onPeerDown((_key, reason) => downs.push(reason));
  a.mesh.disconnect(b.mesh.id);
  expect(downs).toEqual(['disconnected']);
  await until(() => !b.mesh.isConnected(a.mesh.id), 20_000, 'the other side to notice');
  // b still wants a and keeps asking; a no longer answers.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect(a.mesh.connectedPeers).toEqual([]);
});

it('release() keeps the link idle until a wanted peer needs its slot', async () => {
  const a = await makePeer(relay.url, 'life-release', { limits: { maxPeers: 1 } });
  const b = await makePeer(relay.url, 'life-release');
  const c = await makePeer(relay.url, 'life-release');
  await connectAll([a, b]);
  expect(a.mesh.wantedRoom).toBe(0);
  a.mesh.release(b.mesh.id);
  expect(a.mesh.wantedRoom).toBe(1);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(a.mesh.isConnected(b.mesh.id)).toBe(true); // released, not closed
  // Wanting c needs the one slot: b's idle link goes, c's comes up.
  c.mesh.connect([a.mesh.id]);
  a.mesh.connect([c.mesh.id]);
  expect(a.mesh.isConnected(b.mesh.id)).toBe(false);
  await a.mesh.waitForPeers([c.mesh.id], 20_000);
  expect(a.mesh.connectedPeers).toEqual([c.mesh.id]);
});

it('checks its arguments and fails with codes after destroy()', async () => {
  const a = await makePeer(relay.url, 'life-codes', { limits: { maxPeers: 2, maxMessageBytes: 1000 } });
  const stranger = (await newIdentity()).publicKey;
  await expect(a.mesh.send(stranger, pattern(10, 1))).rejects.toMatchObject({ code: 'ERR_MESH_NO_PEER' });
  await expect(a.mesh.send(stranger, pattern(1001, 1))).rejects.toMatchObject({ code: 'ERR_MESH_TOO_LARGE' });
  expect(() => a.mesh.connect(['not a key'])).toThrow(expect.objectContaining({ code: 'ERR_MESH_BAD_KEY' }));
  expect(() => a.mesh.connect([a.mesh.id])).toThrow(expect.objectContaining({ code: 'ERR_MESH_BAD_KEY' }));
  const three = [stranger, (await newIdentity()).publicKey, (await newIdentity()).publicKey];
  expect(() => a.mesh.connect(three)).toThrow(expect.objectContaining({ code: 'ERR_MESH_TOO_MANY_PEERS' }));
  const waiting = a.mesh.waitForPeers([stranger], 60_000);
  await expect(a.mesh.waitForPeers([stranger], 50)).rejects.toMatchObject({ code: 'ERR_MESH_TIMEOUT' });

  a.mesh.destroy();
  a.mesh.destroy();
  await expect(waiting).rejects.toMatchObject({ code: 'ERR_MESH_DESTROYED' });
  await expect(a.mesh.send(stranger, pattern(10, 1))).rejects.toMatchObject({ code: 'ERR_MESH_DESTROYED' });
  expect(() => a.mesh.connect([stranger])).toThrow(expect.objectContaining({ code: 'ERR_MESH_DESTROYED' }));
  a.close();
});

it('refuses a configuration that cannot work', async () => {
  const identity = await newIdentity();
  const base = {
    identity,
    signal: { subscribe() {}, unsubscribe() {}, publish() {}, onPublish: () => () => {} },
  };
  const SimplePeer = class {} as never;
  expect(() => new PeerMesh({ ...base, SimplePeer, runId: '' })).toThrow(RangeError);
  expect(() => new PeerMesh({ ...base, SimplePeer, runId: 'a/b' })).toThrow(RangeError);
  expect(() => new PeerMesh({ ...base, SimplePeer, runId: 'r', limits: { highWaterMark: -1 } })).toThrow(
    RangeError,
  );
  expect(
    () => new PeerMesh({ ...base, SimplePeer, runId: 'r', limits: { lowWaterMark: 2, highWaterMark: 1 } }),
  ).toThrow(RangeError);
});
