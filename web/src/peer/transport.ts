// What a peer's mesh offers the volunteers above it: whole messages in, whole messages out.
// PeerMesh (mesh.ts) implements it over WebRTC data channels, in the page (simple-peer) and in
// the headless volunteer (Node WebRTC); the tests' swarm simulator implements it in memory
// (test/helpers/memory-transport.ts). The volunteers see it through FrameNetwork (volunteer.ts).

export interface Transport {
  readonly id: string;
  /** Sends one message of any size to peer `to`; implementations chunk it for the wire. */
  send(to: string, message: Uint8Array): Promise<void>;
  /** Calls `handler` with each whole message that arrives. Returns an unsubscribe function. */
  onMessage(handler: (from: string, message: Uint8Array) => void): () => void;
  /** What went over the wire, chunk headers included. */
  readonly traffic: TrafficStats;
}

export interface TrafficStats {
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  /** Chunks or messages refused as malformed (see protocol/frame-errors.ts). */
  refused: number;
}

export function emptyTraffic(): TrafficStats {
  return { bytesSent: 0, bytesReceived: 0, messagesSent: 0, messagesReceived: 0, refused: 0 };
}
