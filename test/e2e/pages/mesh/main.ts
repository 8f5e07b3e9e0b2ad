/// <reference path="../../../../web/src/peer/simple-peer-bundle.d.ts" />
// The mesh test page: PeerMesh exactly as the volunteer page builds it (the simple-peer bundle,
// the page's own WebSocket and WebRTC), driven from Node through window.meshPage.
import SimplePeer from 'simple-peer/simplepeer.min.js';
import { generateKeyPair, identityFromKeyPair } from '../../../../web/src/peer/identity.ts';
import { PeerMesh } from '../../../../web/src/peer/mesh.ts';
import { SignalClient } from '../../../../web/src/peer/signal-client.ts';
import { ACK, type MeshPageApi, pattern, sha256Hex } from './page-api.ts';

let mesh: PeerMesh | undefined;
let signal: SignalClient | undefined;
const received: Uint8Array[] = [];
const ackWaiters = new Map<string, () => void>();

function started(): PeerMesh {
  if (!mesh) throw new Error('call start() first');
  return mesh;
}

const api: MeshPageApi = {
  async start(signalUrl, runId) {
    const identity = await identityFromKeyPair(await generateKeyPair());
    signal = new SignalClient({ url: signalUrl, socket: (url) => new WebSocket(url) });
    await signal.ready();
    mesh = new PeerMesh({ identity, signal, SimplePeer, runId });
    await signal.sync();
    mesh.onMessage((from, message) => {
      if (message.length === ACK.length) {
        ackWaiters.get(from)?.();
        return;
      }
      received.push(message);
      mesh?.send(from, ACK).catch(() => {});
    });
    return mesh.id;
  },
  async connect(key, timeoutMs) {
    started().connect([key]);
    await started().waitForPeers([key], timeoutMs);
  },
  async sendTimed(key, bytes, seed) {
    const message = pattern(bytes, seed);
    const acked = new Promise<void>((resolve) => ackWaiters.set(key, resolve));
    const start = performance.now();
    await started().send(key, message);
    await acked;
    return performance.now() - start;
  },
  digests: () => Promise.all(received.map(sha256Hex)),
  traffic: () => ({ ...started().traffic }),
  backpressureWaits: () => started().backpressureWaits,
  destroy() {
    mesh?.destroy();
    signal?.close();
  },
};

window.meshPage = api;
const status = document.querySelector('#status');
if (status) status.textContent = 'ready';
