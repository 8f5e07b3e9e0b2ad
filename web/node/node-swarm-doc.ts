// The swarm document from Node: the SwarmDoc a tab keeps (web/src/peer/swarm-doc.ts), over
// y-webrtc with @roamhq/wrtc for WebRTC, so a headless volunteer is a row of the page's table
// "The swarm right now" like any tab (issue 17: two Node volunteers trained in the tab's rounds
// and the table listed the tab alone).
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';
import { WebrtcProvider } from 'y-webrtc';
import type * as Y from 'yjs';
import type { PeerIdentity } from '../src/peer/identity.ts';
import type { MeshIceServer } from '../src/peer/mesh-simple-peer.ts';
import {
  type MetricsUpdate,
  SwarmDoc,
  type SwarmDocProviderOptions,
  swarmRoom,
} from '../src/peer/swarm-doc.ts';
import { SwarmDocError } from '../src/peer/swarm-doc-errors.ts';

/** Rooms with a provider of ours in this process: y-webrtc allows one per room per process. */
const openRooms = new Set<string>();

/** y-webrtc's provider with Node's WebRTC handed to simple-peer (a browser has its own). */
class NodeWebrtcProvider extends WebrtcProvider {
  constructor(room: string, doc: Y.Doc, options: SwarmDocProviderOptions) {
    super(room, doc, { ...options, peerOpts: { ...options.peerOpts, wrtc } });
  }

  override destroy(): void {
    super.destroy();
    openRooms.delete(this.roomName);
  }
}

export interface NodeSwarmDocOptions {
  /** http(s)://host:port of the relay whose `/signal` carries the room's signaling. */
  readonly relay: string;
  readonly runId: string;
  readonly identity: PeerIdentity;
  readonly name: string;
  readonly iceServers: readonly MeshIceServer[];
  /** Wall clock, ms since the epoch (SwarmDoc's `now`). */
  readonly now?: () => number;
}

/**
 * Joins run `runId`'s swarm document as `identity`. One per run per process: a second throws
 * ERR_SWARM_DOC_ROOM_IN_USE (y-webrtc would refuse it only in a rejected promise).
 */
export function openNodeSwarmDoc(options: NodeSwarmDocOptions): SwarmDoc {
  const room = swarmRoom(options.runId);
  if (openRooms.has(room))
    throw new SwarmDocError('ERR_SWARM_DOC_ROOM_IN_USE', `a SwarmDoc for run ${options.runId} is open here`);
  // y-webrtc's signaling (lib0/websocket) opens the global WebSocket, which Node has only from 22.
  globalThis.WebSocket ??= WebSocket as unknown as typeof globalThis.WebSocket;
  const doc = new SwarmDoc({
    runId: options.runId,
    identity: options.identity,
    name: options.name,
    signalingUrl: `${options.relay.replace(/^http/, 'ws').replace(/\/+$/, '')}/signal`,
    iceServers: options.iceServers,
    WebrtcProvider: NodeWebrtcProvider,
    now: options.now,
  });
  openRooms.add(room);
  return doc;
}

/**
 * Publishes `update` to `doc` when there is one. A value other peers would refuse (a loss gone
 * NaN) is left out of our row rather than stopping the volunteer: the row is for people to
 * look at, and the relay's rounds do not depend on it.
 */
export function publishTo(doc: SwarmDoc | null, update: MetricsUpdate | null): void {
  if (!doc || !update || doc.isDestroyed) return;
  try {
    doc.publish(update);
  } catch (error) {
    if (!(error instanceof SwarmDocError)) throw error;
    // The row keeps its last good values; the next event's update tries again.
  }
}
