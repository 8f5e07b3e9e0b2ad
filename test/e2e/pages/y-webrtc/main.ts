// One y-webrtc peer for test/e2e/y-webrtc-signal.test.ts: a Y.Doc in room `?room=` that finds
// its peers through the signaling server at `?signal=` and syncs with them over WebRTC.
import { WebrtcProvider } from 'y-webrtc';
import * as Y from 'yjs';

const params = new URLSearchParams(location.search);
const doc = new Y.Doc();
const provider = new WebrtcProvider(params.get('room') ?? 'potluck-e2e', doc, {
  signaling: [params.get('signal') ?? ''],
  // Loopback needs no STUN, and there is no network to reach one.
  peerOpts: { config: { iceServers: [] } },
});
const shared = doc.getMap<string>('shared');

/** What the test drives and reads through page.evaluate. */
const testApi = {
  set(key: string, value: string): void {
    shared.set(key, value);
  },
  get(key: string): string | undefined {
    return shared.get(key);
  },
  /** Peers connected over WebRTC (not BroadcastChannel, which two browsers do not share). */
  webrtcPeers(): number {
    return [...(provider.room?.webrtcConns.values() ?? [])].filter((conn) => conn.connected).length;
  },
  signalingConnected(): boolean {
    return provider.signalingConns.some((conn) => conn.connected);
  },
};
Object.assign(window, { yWebrtcTest: testApi });
export type YWebrtcTestApi = typeof testApi;
const status = document.querySelector('#status');
if (status) status.textContent = 'ready';
