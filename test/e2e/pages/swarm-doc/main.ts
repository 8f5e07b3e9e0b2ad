// One swarm-document peer for test/e2e/swarm-doc.test.ts: a SwarmDoc over y-webrtc as the
// volunteer page makes it, driven from Node through window.swarmDocPage. The provider is
// y-webrtc's own, subclassed only to keep hold of the Y.Doc, so the page can also play a
// hostile peer that writes straight into the `peers` map.
import { WebrtcProvider } from 'y-webrtc';
import type * as Y from 'yjs';
import {
  type MetricsUpdate,
  PEERS_MAP,
  SwarmDoc,
  type SwarmDocProviderOptions,
} from '../../../../web/src/peer/swarm-doc.ts';
import type { PeerMetrics } from '../../../../web/src/peer/swarm-doc-roster.ts';

let swarm: SwarmDoc | undefined;
let provider: WebrtcProvider | undefined;
let doc: Y.Doc | undefined;
let changes = 0;

class KeepingProvider extends WebrtcProvider {
  constructor(roomName: string, ydoc: Y.Doc, options: SwarmDocProviderOptions) {
    super(roomName, ydoc, options);
    provider = this;
    doc = ydoc;
  }
}

function started(): SwarmDoc {
  if (!swarm) throw new Error('call start() first');
  return swarm;
}

/** What the test drives and reads through page.evaluate. */
const api = {
  start(runId: string, selfKey: string, name: string, signalingUrl: string): void {
    swarm = new SwarmDoc({
      runId,
      selfKey,
      name,
      signalingUrl,
      // Loopback needs no STUN, and there is no network to reach one.
      iceServers: [],
      WebrtcProvider: KeepingProvider,
    });
    swarm.onChange(() => {
      changes++;
    });
  },
  publish(update: MetricsUpdate): void {
    started().publish(update);
  },
  roster(): PeerMetrics[] {
    return started().roster();
  },
  changes(): number {
    return changes;
  },
  /** Every key in the map, checked or not. */
  rawKeys(): string[] {
    return [...(doc?.getMap(PEERS_MAP).keys() ?? [])];
  },
  /** What a hostile peer can do: write any value under any key. */
  writeRaw(key: string, value: unknown): void {
    doc?.getMap(PEERS_MAP).set(key, value);
  },
  destroy(): Promise<void> {
    return started().destroy();
  },
  /** Peers connected over WebRTC (not BroadcastChannel, which two browsers do not share). */
  webrtcPeers(): number {
    return [...(provider?.room?.webrtcConns.values() ?? [])].filter((conn) => conn.connected).length;
  },
  signalingConnected(): boolean {
    return provider?.signalingConns.some((conn) => conn.connected) ?? false;
  },
};
Object.assign(window, { swarmDocPage: api });
export type SwarmDocPageApi = typeof api;
const status = document.querySelector('#status');
if (status) status.textContent = 'ready';
