// What the mesh tests share: a loopback HTTP server with the relay's signal server on /signal,
// and Node peers (simple-peer on @roamhq/wrtc) that remember what they made so afterAll can
// destroy everything (wrtc keeps the process alive otherwise).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import WebSocket from 'ws';
import { routeUpgrades } from '../../../relay/http/upgrade-route.ts';
import { createSignalServer, type SignalServer } from '../../../relay/signal/index.ts';
import { generateKeyPair, identityFromKeyPair, type PeerIdentity } from '../../../web/src/peer/identity.ts';
import { PeerMesh, type PeerMeshOptions } from '../../../web/src/peer/mesh.ts';
import type { MeshPeer, MeshPeerConstructor } from '../../../web/src/peer/mesh-simple-peer.ts';
import { SignalClient } from '../../../web/src/peer/signal-client.ts';

export interface Relay {
  readonly signal: SignalServer;
  /** ws://127.0.0.1:<port>/signal */
  readonly url: string;
  close(): Promise<void>;
}

export async function startRelay(): Promise<Relay> {
  const signal = createSignalServer();
  const http: Server = createServer((_request, response) => response.end('okay'));
  routeUpgrades(http, { '/signal': signal.handleUpgrade });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    signal,
    url: `ws://127.0.0.1:${port}/signal`,
    async close() {
      await signal.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

export const wsFactory = (url: string) => new WebSocket(url);

export interface TestPeer {
  readonly mesh: PeerMesh;
  readonly signal: SignalClient;
  readonly identity: PeerIdentity;
  /** Every simple-peer this peer's mesh made, newest last. */
  readonly peers: MeshPeer[];
  /** Messages received, in order, by sender. */
  readonly inbox: Map<string, Uint8Array[]>;
  close(): void;
}

/** Everything made by makePeer(), for afterAll. */
const everyPeer = new Set<TestPeer>();

export async function newIdentity(): Promise<PeerIdentity> {
  return identityFromKeyPair(await generateKeyPair());
}

export async function makePeer(
  relayUrl: string,
  runId: string,
  options: Partial<PeerMeshOptions> = {},
): Promise<TestPeer> {
  const identity = options.identity ?? (await newIdentity());
  const signal = new SignalClient({ url: relayUrl, socket: wsFactory });
  await signal.ready();
  const peers: MeshPeer[] = [];
  // The same constructor the headless volunteer passes, plus a record of what it made.
  const Recording: MeshPeerConstructor = class extends SimplePeer {
    constructor(peerOptions: SimplePeer.Options) {
      super(peerOptions);
      peers.push(this);
    }
  };
  const mesh = new PeerMesh({ identity, signal, SimplePeer: Recording, wrtc, runId, ...options });
  // The relay has the mesh's topic before anyone is told about this peer.
  await signal.sync();
  const inbox = new Map<string, Uint8Array[]>();
  mesh.onMessage((from, message) => {
    const list = inbox.get(from) ?? [];
    list.push(message);
    inbox.set(from, list);
  });
  const peer: TestPeer = {
    mesh,
    signal,
    identity,
    peers,
    inbox,
    close() {
      mesh.destroy();
      signal.close();
      everyPeer.delete(peer);
    },
  };
  everyPeer.add(peer);
  return peer;
}

export function closeAllPeers(): void {
  for (const peer of [...everyPeer]) peer.close();
}

/** Two or more peers, each wanting every other, all authenticated. */
export async function connectAll(peers: readonly TestPeer[], timeoutMs = 30_000): Promise<void> {
  for (const peer of peers) peer.mesh.connect(peers.filter((p) => p !== peer).map((p) => p.mesh.id));
  await Promise.all(
    peers.map((peer) =>
      peer.mesh.waitForPeers(
        peers.filter((p) => p !== peer).map((p) => p.mesh.id),
        timeoutMs,
      ),
    ),
  );
}

/** Bytes whose content depends on `seed` and position, so a misplaced chunk shows. */
export function pattern(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function equalBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && Buffer.compare(a, b) === 0;
}
