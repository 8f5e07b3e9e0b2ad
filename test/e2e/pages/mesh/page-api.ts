// What the mesh test page offers the test driving it (test/e2e/mesh-chromium.test.ts), on
// `window.meshPage`. Bulk bytes never cross page.evaluate: both sides make them from a seed
// and compare SHA-256 digests.
import type { TrafficStats } from '../../../../web/src/peer/transport.ts';

export interface MeshPageApi {
  /** Makes an identity, a signal client and a PeerMesh; returns the page's public key. */
  start(signalUrl: string, runId: string): Promise<string>;
  /** connect() and wait until authenticated. */
  connect(key: string, timeoutMs: number): Promise<void>;
  /** Sends pattern(bytes, seed) and resolves with the milliseconds until the 1-byte ack. */
  sendTimed(key: string, bytes: number, seed: number): Promise<number>;
  /** SHA-256 (hex) of each message received so far (acks excluded), oldest first. */
  digests(): Promise<string[]>;
  traffic(): TrafficStats;
  /** PeerMesh.backpressureWaits: how often a send waited for the channel to drain. */
  backpressureWaits(): number;
  destroy(): void;
}

/** A 1-byte message: "got it". Every longer message is answered with one. */
export const ACK = Uint8Array.of(0xac);

/** Bytes from a seed (xorshift32), the same in the page and in Node. */
export function pattern(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = Math.imul(seed, 2654435761) >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

declare global {
  interface Window {
    meshPage: MeshPageApi;
  }
}
