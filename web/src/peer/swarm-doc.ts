// The swarm document: a Yjs doc shared over y-webrtc, signaled through the relay's /signal, so
// every tab sees the roster and each peer's live metrics without polling the relay. Each peer
// writes only its own entry of the `peers` map, keyed by its public key:
//
//   peers: Y.Map  <public key> → { name, round, phase, loss, tokensPerSec, bytesSent,
//                                   bytesReceived, credits, updatedAt }
//
// It is public and informational. The room has no password (nothing here is secret), and any
// peer in it can write any key: an entry is a claim by whoever wrote it, its credits are not
// the ledger's, and roster() checks shape and freshness only (swarm-doc-roster.ts). Decisions
// about rounds and credits stay with the relay and the signed frames of the peer mesh.
//
// Writes are throttled (publishIntervalMs) and repeated while idle (heartbeatMs), so a live
// peer's entry stays fresh and one that vanished without destroy() drops out after staleMs.
// `updatedAt` is the writer's wall clock, compared with the reader's: clocks more than staleMs
// apart hide each other's entries (NTP keeps ordinary machines well inside a minute).

import * as v from 'valibot';
import { WebrtcProvider as YWebrtcProvider } from 'y-webrtc';
import * as Y from 'yjs';
import { type PeerEntry, PeerEntrySchema } from '../../../protocol/swarm-doc-entry.ts';
import { MAX_RUN_ID_LENGTH } from './mesh.ts';
import type { MeshIceServer } from './mesh-simple-peer.ts';
import { SwarmDocError } from './swarm-doc-errors.ts';
import { DEFAULT_STALE_MS, isRosterKey, type PeerMetrics, readRoster } from './swarm-doc-roster.ts';

/** The room of run `runId`; peers of other runs never meet in it. */
export function swarmRoom(runId: string): string {
  return `potluck-swarm/${runId}`;
}

/** The Y.Map every entry lives in. */
export const PEERS_MAP = 'peers';

/** At most one write per second: the network carries every write to every peer in the room. */
export const DEFAULT_PUBLISH_INTERVAL_MS = 1_000;
/** A third of the stale window: two heartbeats can be lost before the entry drops out. */
export const DEFAULT_HEARTBEAT_MS = DEFAULT_STALE_MS / 3;
/**
 * How long destroy() keeps the connections open after deleting our entry. y-webrtc hands the
 * deletion to every data channel at once, but RTCPeerConnection.close() does not promise to
 * deliver what is still queued; lost, it would leave us listed until staleMs. (On loopback it
 * arrives even with no grace; the margin is for real networks and costs nothing.)
 */
export const DEFAULT_LEAVE_GRACE_MS = 500;

/** The options y-webrtc's WebrtcProvider gets from us. */
export interface SwarmDocProviderOptions {
  signaling: string[];
  peerOpts: { config: { iceServers: MeshIceServer[] } };
}

/** What SwarmDoc needs of a provider; y-webrtc's WebrtcProvider fits. */
export interface SwarmDocProvider {
  destroy(): void;
}

export type SwarmDocProviderConstructor = new (
  roomName: string,
  doc: Y.Doc,
  options: SwarmDocProviderOptions,
) => SwarmDocProvider;

export interface SwarmDocOptions {
  /** The run: only its peers share the document. At most MAX_RUN_ID_LENGTH characters. */
  readonly runId: string;
  /** Our public key (base64url Ed25519, PeerIdentity.publicKey): the key of our entry. */
  readonly selfKey: string;
  /** Shown next to our entry; at most MAX_NAME_LENGTH characters. */
  readonly name: string;
  /** The relay's y-webrtc-compatible signaling endpoint, `ws(s)://host/signal`. */
  readonly signalingUrl: string;
  /** STUN/TURN servers (the relay hands them out); none are needed on one machine. */
  readonly iceServers: readonly MeshIceServer[];
  /** y-webrtc's WebrtcProvider by default; tests pass an in-memory one. */
  readonly WebrtcProvider?: SwarmDocProviderConstructor;
  /** Wall clock in ms since the epoch: stamps our entry and judges others' freshness. */
  readonly now?: () => number;
  /** Entries whose updatedAt is further than this from now() are left out of roster(). */
  readonly staleMs?: number;
  /** Least time between two writes of our entry; publish() calls in between are merged. */
  readonly publishIntervalMs?: number;
  /** How often our entry is rewritten when nothing was published; keep it well below staleMs. */
  readonly heartbeatMs?: number;
  /** See DEFAULT_LEAVE_GRACE_MS. */
  readonly leaveGraceMs?: number;
}

/** A partial update for publish(): the fields given replace ours, the rest stay. */
export type MetricsUpdate = Partial<Omit<PeerEntry, 'updatedAt'>>;

type ChangeHandler = () => void;

/** Rooms with a y-webrtc provider of ours in this page (see the constructor). */
const openRooms = new Set<string>();

/** Calls every handler; one that throws is reported on its own and does not stop the rest. */
function notify(handlers: Iterable<ChangeHandler>): void {
  for (const handler of handlers) {
    try {
      handler();
    } catch (error) {
      // Yjs calls us inside its observer loop; the caller's bug surfaces as an uncaught error.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

export class SwarmDoc {
  /** Our public key: the key of our entry. */
  readonly selfKey: string;
  /** The y-webrtc room: swarmRoom(runId). */
  readonly room: string;
  private readonly doc = new Y.Doc();
  private readonly peers: Y.Map<unknown>;
  private readonly provider: SwarmDocProvider;
  private readonly now: () => number;
  private readonly staleMs: number;
  private readonly publishIntervalMs: number;
  private readonly heartbeatMs: number;
  private readonly leaveGraceMs: number;
  private readonly handlers = new Set<ChangeHandler>();
  /** Our entry as we will write it next (updatedAt is stamped at the write). */
  private entry: Omit<PeerEntry, 'updatedAt'>;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private publishTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  private destroyed: Promise<void> | undefined;
  private releaseRoom: () => void = () => {};
  private readonly observer = (): void => notify(this.handlers);

  constructor(options: SwarmDocOptions) {
    const { runId, selfKey } = options;
    if (runId.length === 0 || runId.length > MAX_RUN_ID_LENGTH)
      throw new SwarmDocError(
        'ERR_SWARM_DOC_BAD_RUN_ID',
        `runId must be 1 to ${MAX_RUN_ID_LENGTH} characters`,
      );
    if (!isRosterKey(selfKey))
      throw new SwarmDocError('ERR_SWARM_DOC_BAD_KEY', 'selfKey is not a base64url Ed25519 public key');
    this.selfKey = selfKey;
    this.now = options.now ?? Date.now;
    this.staleMs = options.staleMs ?? DEFAULT_STALE_MS;
    this.publishIntervalMs = options.publishIntervalMs ?? DEFAULT_PUBLISH_INTERVAL_MS;
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.leaveGraceMs = options.leaveGraceMs ?? DEFAULT_LEAVE_GRACE_MS;
    this.entry = checked({
      name: options.name,
      round: 0,
      phase: 'idle',
      loss: null,
      tokensPerSec: 0,
      bytesSent: 0,
      bytesReceived: 0,
      credits: 0,
    });
    this.room = swarmRoom(runId);
    // y-webrtc allows one provider per room in a page and says so only in a rejected promise.
    const yWebrtc = options.WebrtcProvider === undefined;
    if (yWebrtc && openRooms.has(this.room))
      throw new SwarmDocError('ERR_SWARM_DOC_ROOM_IN_USE', `a SwarmDoc for run ${runId} is open here`);
    const Provider = options.WebrtcProvider ?? YWebrtcProvider;
    this.provider = new Provider(this.room, this.doc, {
      signaling: [options.signalingUrl],
      // y-webrtc hands peerOpts to simple-peer; copies, so the provider cannot change the caller's.
      peerOpts: { config: { iceServers: options.iceServers.map((server) => ({ ...server })) } },
    });
    if (yWebrtc) {
      openRooms.add(this.room);
      this.releaseRoom = () => openRooms.delete(this.room);
    }
    this.peers = this.doc.getMap(PEERS_MAP);
    this.peers.observe(this.observer);
    // Joining is news: the entry goes out at once, so other tabs list us as soon as we sync.
    this.write();
  }

  /**
   * Merges `update` into our entry and writes it now, or when publishIntervalMs has passed
   * since the last write (calls in between are merged into that one write). Throws
   * ERR_SWARM_DOC_BAD_METRICS for values other peers would refuse (a name over
   * MAX_NAME_LENGTH, a number that is not finite, a negative count, an unknown phase),
   * leaving our entry as it was.
   */
  publish(update: MetricsUpdate): void {
    this.assertLive('publish');
    const merged: Record<string, unknown> = { ...this.entry };
    // Only the fields given: `{ loss: undefined }` from an optional source keeps our loss.
    for (const [field, value] of Object.entries(update)) if (value !== undefined) merged[field] = value;
    this.entry = checked(merged);
    this.schedulePublish();
  }

  /**
   * The well-formed entries written within staleMs of now, ours included, sorted by key.
   * Shape only: see the file comment for what an entry does not prove. Never throws for
   * anything another peer wrote; empty after destroy().
   */
  roster(): PeerMetrics[] {
    if (this.destroyed) return [];
    return readRoster(this.peers.entries(), { now: this.now(), staleMs: this.staleMs });
  }

  /**
   * Calls `handler` after every change to the map, local or remote (at most one per
   * transaction). Entries also go stale without any change: a view that shows the roster
   * should redraw on a timer as well. Returns the unsubscribe function.
   */
  onChange(handler: ChangeHandler): () => void {
    this.assertLive('onChange');
    // A wrapper, so the same function subscribed twice is two subscriptions.
    const subscription: ChangeHandler = () => handler();
    this.handlers.add(subscription);
    return () => {
      this.handlers.delete(subscription);
    };
  }

  get isDestroyed(): boolean {
    return this.destroyed !== undefined;
  }

  /**
   * Deletes our entry (so the others drop us now, not after staleMs), then, leaveGraceMs later,
   * destroys the provider and the doc. Handlers are not called again. Resolves once all is torn
   * down; y-webrtc allows one provider per room in a page, so await it before making a new
   * SwarmDoc for the same run. Safe to call twice: the second call returns the same promise.
   */
  destroy(): Promise<void> {
    if (this.destroyed) return this.destroyed;
    clearTimeout(this.publishTimer);
    clearTimeout(this.heartbeatTimer);
    this.handlers.clear();
    this.peers.unobserve(this.observer);
    this.peers.delete(this.selfKey);
    this.destroyed = new Promise((resolve) => {
      setTimeout(() => {
        this.provider.destroy();
        this.doc.destroy();
        this.releaseRoom();
        resolve();
      }, this.leaveGraceMs);
    });
    return this.destroyed;
  }

  private schedulePublish(): void {
    if (this.publishTimer !== undefined) return; // the write already planned takes this update too
    // Capped, so a wall clock set back cannot hold our writes for longer than one interval.
    const wait = Math.min(this.lastWriteAt + this.publishIntervalMs - this.now(), this.publishIntervalMs);
    if (wait <= 0) {
      this.write();
      return;
    }
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      this.write();
    }, wait);
  }

  /** Writes our entry, stamped now, and restarts the heartbeat. */
  private write(): void {
    const updatedAt = this.now();
    this.peers.set(this.selfKey, { ...this.entry, updatedAt });
    this.lastWriteAt = updatedAt;
    // This write carries any update a pending publish was waiting to send.
    clearTimeout(this.publishTimer);
    this.publishTimer = undefined;
    clearTimeout(this.heartbeatTimer);
    // Also puts back our entry if another peer deleted or overwrote it meanwhile.
    this.heartbeatTimer = setTimeout(() => this.write(), this.heartbeatMs);
  }

  private assertLive(call: string): void {
    if (this.destroyed) throw new SwarmDocError('ERR_SWARM_DOC_DESTROYED', `${call}() after destroy()`);
  }
}

/** `entry` if it passes the check other peers apply to it, else ERR_SWARM_DOC_BAD_METRICS. */
function checked(entry: Record<string, unknown>): Omit<PeerEntry, 'updatedAt'> {
  // updatedAt is stamped at each write; any finite time stands in for it here.
  const result = v.safeParse(PeerEntrySchema, { ...entry, updatedAt: 0 });
  if (!result.success)
    throw new SwarmDocError('ERR_SWARM_DOC_BAD_METRICS', v.summarize(result.issues).replaceAll('\n', '; '));
  const { updatedAt: _stamped, ...rest } = result.output;
  return rest;
}
