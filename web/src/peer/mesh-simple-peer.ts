// The part of simple-peer (https://github.com/feross/simple-peer) PeerMesh uses, as structural
// types, so the same mesh takes the Node entry (`simple-peer`, with `@roamhq/wrtc`) or the
// browser bundle (`simple-peer/simplepeer.min.js`) without either's typings: @types/simple-peer
// pulls Node's `stream` types into the page's project.

/** What simple-peer's `wrtc` option wants: `@roamhq/wrtc` in Node, nothing in the browser. */
export interface MeshWrtc {
  readonly RTCPeerConnection: typeof RTCPeerConnection;
  readonly RTCSessionDescription: typeof RTCSessionDescription;
  readonly RTCIceCandidate: typeof RTCIceCandidate;
}

export interface MeshIceServer {
  readonly urls: string | string[];
  readonly username?: string;
  readonly credential?: string;
}

export interface MeshPeerOptions {
  initiator: boolean;
  trickle: boolean;
  config: { iceServers: MeshIceServer[] };
  wrtc?: MeshWrtc;
}

/**
 * The RTCDataChannel under a connected simple-peer. Chromium's has bufferedAmountLowThreshold
 * and fires `bufferedamountlow`; @roamhq/wrtc 0.10 has neither (only bufferedAmount), so
 * both are optional and channel-writer.ts polls where they are missing.
 */
export interface MeshDataChannel {
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold?: number;
  readonly readyState: string;
  send(data: Uint8Array): void;
  addEventListener?(type: 'bufferedamountlow', listener: () => void): void;
  removeEventListener?(type: 'bufferedamountlow', listener: () => void): void;
}

export interface MeshPeer {
  /** Hands it the other side's offer, answer or ICE candidate. */
  signal(data: unknown): void;
  destroy(): void;
  /**
   * 'signal' (data to publish), 'connect', 'data' (one data-channel message, a Buffer, which
   * is a Uint8Array in Node and in the bundle), 'close', 'error'. Listeners check what they get.
   */
  on(event: string, listener: (...args: never[]) => void): unknown;
  /**
   * simple-peer's data channel, set once it exists. Private in simple-peer, read here because
   * its public surface has no way to wait for the channel to drain below a chosen mark: `send`
   * writes straight to the channel with no backpressure at all, and the stream `write` path
   * waits at a fixed 64 KiB threshold with a 150 ms poll under wrtc (too small a window for
   * tens of MB/s), and copies each chunk through a stream buffer.
   */
  readonly _channel?: unknown;
  /** simple-peer's statistics of the connection (webrtc-stats reports), for link-route.ts. */
  getStats?(callback: (error: unknown, reports: unknown) => void): void;
}

export type MeshPeerConstructor = new (options: MeshPeerOptions) => MeshPeer;
