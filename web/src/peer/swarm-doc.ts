// The swarm document: a Yjs doc shared over y-webrtc, signaled through the relay's /signal, so
// every tab sees the roster and each peer's live metrics without polling the relay. Each peer
// writes only its own entry of the `peers` map, keyed by its public key, signed by that key:
//
//   peers: Y.Map  <public key> → { body: JSON of { name, round, phase, loss, tokensPerSec,
//                                   bytesSent, bytesReceived, updatedAt }, signature }
//
// The room has no password (nothing here is secret), and any peer in it can write any key, so
// what roster() shows is checked (swarm-doc-roster.ts): only members the relay listed
// (setMembers), only entries their key signed for this run, only the newest of each, at most
// DEFAULT_MAX_ROSTER_ENTRIES rows, ours always. Credits are not in an entry: the page shows the
// relay's (web/src/volunteer/swarm-table.ts). Decisions about rounds and credits stay with the
// relay and the signed frames of the peer mesh; this is for people to look at.
//
// Writes are throttled (publishIntervalMs) and repeated while idle (heartbeatMs), so a live
// peer's entry stays fresh and one that vanished without destroy() drops out after staleMs.
// `updatedAt` is the writer's wall clock (made strictly increasing), compared with the reader's:
// clocks more than staleMs apart hide each other's entries (NTP keeps ordinary machines well
// inside a minute). Signing and checking are asynchronous (WebCrypto): roster() answers from
// what has been checked so far, and onChange handlers run when that changes.

import * as v from 'valibot';
import { WebrtcProvider as YWebrtcProvider } from 'y-webrtc';
import * as Y from 'yjs';
import { RunId } from '../../../protocol/ledger-entry.ts';
import {
  encodeEntryBody,
  MAX_ENTRY_BODY_LENGTH,
  type PeerEntry,
  PeerEntrySchema,
  type SignedEntry,
} from '../../../protocol/swarm-doc-entry.ts';
import { swarmEntryMessage } from '../../../protocol/swarm-signing.ts';
import type { PeerIdentity } from './identity.ts';
import type { MeshIceServer } from './mesh-simple-peer.ts';
import { SwarmDocError } from './swarm-doc-errors.ts';
import { DEFAULT_STALE_MS, isRosterKey, type PeerMetrics, SwarmRoster } from './swarm-doc-roster.ts';

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
  /** The run (protocol's RunId): only its peers share the document, every entry names it. */
  readonly runId: string;
  /** Our identity: its public key is the key of our entry, and it signs every write. */
  readonly identity: PeerIdentity;
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
  /** Most rows roster() returns, ours included; DEFAULT_MAX_ROSTER_ENTRIES. */
  readonly maxEntries?: number;
  /** Least time between two writes of our entry; publish() calls in between are merged. */
  readonly publishIntervalMs?: number;
  /** How often our entry is rewritten when nothing was published; keep it well below staleMs. */
  readonly heartbeatMs?: number;
  /** See DEFAULT_LEAVE_GRACE_MS. */
  readonly leaveGraceMs?: number;
}

/** A partial update for publish(): the fields given replace ours, the rest stay. */
export type MetricsUpdate = Partial<Omit<PeerEntry, 'updatedAt' | 'phase'>> & {
  /** `left` is destroy()'s to write. */
  readonly phase?: Exclude<PeerEntry['phase'], 'left'>;
};

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
  private readonly runId: string;
  private readonly identity: PeerIdentity;
  private readonly doc = new Y.Doc();
  private readonly peers: Y.Map<unknown>;
  private readonly provider: SwarmDocProvider;
  /** The members the relay listed and their verified entries. */
  private readonly members: SwarmRoster;
  private readonly now: () => number;
  private readonly publishIntervalMs: number;
  private readonly heartbeatMs: number;
  private readonly leaveGraceMs: number;
  private readonly handlers = new Set<ChangeHandler>();
  /** Our entry as we last stamped it (its signed copy may still be on its way to the map). */
  private entry: PeerEntry;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private publishTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  /** Our signed writes, in stamp order: each waits for the one before it. */
  private writing: Promise<void> = Promise.resolve();
  /** Member keys changed in the map since their last check. */
  private readonly unchecked = new Set<string>();
  /** The check under way, if any: one at a time, so a flood of changes costs one pass each. */
  private checking: Promise<void> | undefined;
  private destroyed: Promise<void> | undefined;
  private releaseRoom: () => void = () => {};
  private readonly observer = (event: Y.YMapEvent<unknown>): void => {
    // Our own writes need no check; theirs go through the roster's (keys of non-members are
    // dropped here, before anything reads their values).
    if (event.transaction.local) return;
    for (const key of event.keysChanged) if (this.members.isMember(key)) this.unchecked.add(key);
    this.checkChanged();
  };

  constructor(options: SwarmDocOptions) {
    const { runId, identity } = options;
    if (!v.is(RunId, runId))
      throw new SwarmDocError('ERR_SWARM_DOC_BAD_RUN_ID', 'runId must be 1 to 128 of A-Z a-z 0-9 . _ -');
    if (!isRosterKey(identity.publicKey))
      throw new SwarmDocError(
        'ERR_SWARM_DOC_BAD_KEY',
        "the identity's key is not a base64url Ed25519 public key",
      );
    this.runId = runId;
    this.identity = identity;
    this.selfKey = identity.publicKey;
    this.now = options.now ?? Date.now;
    this.publishIntervalMs = options.publishIntervalMs ?? DEFAULT_PUBLISH_INTERVAL_MS;
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.leaveGraceMs = options.leaveGraceMs ?? DEFAULT_LEAVE_GRACE_MS;
    this.members = new SwarmRoster({
      runId,
      selfKey: this.selfKey,
      now: this.now,
      staleMs: options.staleMs ?? DEFAULT_STALE_MS,
      maxEntries: options.maxEntries,
    });
    this.entry = checked({
      name: options.name,
      round: 0,
      phase: 'idle',
      loss: null,
      tokensPerSec: 0,
      bytesSent: 0,
      bytesReceived: 0,
      updatedAt: 0,
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
   * MAX_NAME_LENGTH or with characters display-name.ts refuses, a number that is not finite,
   * a negative count, an unknown phase), leaving our entry as it was.
   */
  publish(update: MetricsUpdate): void {
    this.assertLive('publish');
    const merged: Record<string, unknown> = { ...this.entry };
    // Only the fields given: `{ loss: undefined }` from an optional source keeps our loss.
    for (const [field, value] of Object.entries(update)) if (value !== undefined) merged[field] = value;
    if (merged.phase === 'left')
      throw new SwarmDocError('ERR_SWARM_DOC_BAD_METRICS', 'phase `left` is written by destroy()');
    this.entry = checked(merged);
    this.schedulePublish();
  }

  /**
   * The keys the relay seats with us (the group of its latest assignment): only their entries
   * are shown, and only the first DEFAULT_MAX_ROSTER_ENTRIES of them. Replaces the last list.
   */
  setMembers(keys: Iterable<string>): void {
    if (this.destroyed) return;
    for (const key of this.members.setMembers(keys)) this.unchecked.add(key);
    notify(this.handlers); // rows of members no longer listed are gone
    this.checkChanged();
  }

  /**
   * The rows to show: ours, and each listed member's newest entry that its key signed and that
   * is fresh, sorted by key, at most maxEntries. Never throws for anything another peer wrote;
   * empty after destroy().
   */
  roster(): PeerMetrics[] {
    if (this.destroyed) return [];
    return this.members.rows(this.entry);
  }

  /**
   * Calls `handler` when what roster() returns may have changed: our write, a member's entry
   * checked, the member list replaced. Entries also go stale without any change: a view that
   * shows the roster should redraw on a timer as well. Returns the unsubscribe function.
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

  /** Resolves once the writes and checks started so far are done (tests wait on it). */
  async settled(): Promise<void> {
    for (;;) {
      await this.writing;
      if (!this.checking) return;
      await this.checking;
    }
  }

  get isDestroyed(): boolean {
    return this.destroyed !== undefined;
  }

  /**
   * Writes our signed farewell (phase `left`, so the others drop us now, not after staleMs),
   * then, leaveGraceMs later, destroys the provider and the doc. Handlers are not called again.
   * Resolves once all is torn down; y-webrtc allows one provider per room in a page, so await
   * it before making a new SwarmDoc for the same run. Safe to call twice: the second call
   * returns the same promise.
   */
  destroy(): Promise<void> {
    if (this.destroyed) return this.destroyed;
    clearTimeout(this.publishTimer);
    clearTimeout(this.heartbeatTimer);
    this.handlers.clear();
    this.peers.unobserve(this.observer);
    this.entry = { ...this.entry, phase: 'left' };
    this.signAndStore({ ...this.entry, updatedAt: this.nextStamp() });
    this.destroyed = this.writing.then(
      () =>
        new Promise((resolve) => {
          setTimeout(() => {
            this.provider.destroy();
            this.doc.destroy();
            this.releaseRoom();
            resolve();
          }, this.leaveGraceMs);
        }),
    );
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

  /** Stamps our entry now, shows it, signs and stores it, and restarts the heartbeat. */
  private write(): void {
    this.entry = { ...this.entry, updatedAt: this.nextStamp() };
    this.lastWriteAt = this.now();
    this.signAndStore(this.entry);
    // This write carries any update a pending publish was waiting to send.
    clearTimeout(this.publishTimer);
    this.publishTimer = undefined;
    clearTimeout(this.heartbeatTimer);
    // Also puts back our entry if another peer deleted or overwrote it meanwhile.
    this.heartbeatTimer = setTimeout(() => this.write(), this.heartbeatMs);
    notify(this.handlers);
  }

  /** Now, or one more than the last stamp: readers take the larger stamp as the newer entry. */
  private nextStamp(): number {
    return Math.max(Math.floor(this.now()), this.entry.updatedAt + 1);
  }

  /** Queues the signing of `entry` and its write under our key, after the writes before it. */
  private signAndStore(entry: PeerEntry): void {
    const body = encodeEntryBody(entry);
    this.writing = this.writing
      .then(() => this.identity.sign(swarmEntryMessage(this.runId, this.selfKey, body)))
      .then((signature) => {
        // After destroy() only the farewell, queued before the teardown, is written.
        if (this.destroyed && entry.phase !== 'left') return;
        this.peers.set(this.selfKey, { body, signature } satisfies SignedEntry);
      })
      .catch((error: unknown) => {
        // Our key could not sign (a key store gone under us): the page's bug, reported as one.
        const message = error instanceof Error ? error.message : String(error);
        queueMicrotask(() => {
          throw new SwarmDocError('ERR_SWARM_DOC_SIGN', `could not sign our entry: ${message}`);
        });
      });
  }

  /** Checks the member keys changed since the last pass, one pass at a time. */
  private checkChanged(): void {
    if (this.checking || this.unchecked.size === 0 || this.destroyed) return;
    const keys = [...this.unchecked];
    this.unchecked.clear();
    this.checking = this.members
      .check(keys, (key) => this.peers.get(key))
      .then((changed) => {
        this.checking = undefined;
        if (changed && !this.destroyed) notify(this.handlers);
        this.checkChanged();
      });
  }

  private assertLive(call: string): void {
    if (this.destroyed) throw new SwarmDocError('ERR_SWARM_DOC_DESTROYED', `${call}() after destroy()`);
  }
}

/** `entry` if it passes the check other peers apply to it, else ERR_SWARM_DOC_BAD_METRICS. */
function checked(entry: Record<string, unknown>): PeerEntry {
  const result = v.safeParse(PeerEntrySchema, entry);
  if (!result.success)
    throw new SwarmDocError('ERR_SWARM_DOC_BAD_METRICS', v.summarize(result.issues).replaceAll('\n', '; '));
  // Readers refuse a longer text; the schema's caps keep every entry well under it.
  if (encodeEntryBody(result.output).length > MAX_ENTRY_BODY_LENGTH)
    throw new SwarmDocError('ERR_SWARM_DOC_BAD_METRICS', 'the entry is longer than readers accept');
  return result.output;
}
