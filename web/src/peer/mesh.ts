// PeerMesh: the peers' Transport (transport.ts) over WebRTC data
// channels, the same code in the page and in the headless Node volunteer. Signaling goes
// through the relay's /signal topics (mesh-signals.ts); every connection authenticates both
// ways before it carries a byte of payload (channel-auth.ts); messages travel as chunks with
// backpressure (mesh-link.ts). What differs per platform comes in as options:
//
//   browser  SimplePeer from 'simple-peer/simplepeer.min.js', no wrtc, `new WebSocket(url)`
//   Node     SimplePeer from 'simple-peer', wrtc from '@roamhq/wrtc', `new WebSocket(url)` of 'ws'

import { safeParse } from 'valibot';
import { encodeBase64url } from '../../../protocol/base64url.ts';
import type { FrameError } from '../../../protocol/frame-errors.ts';
import type { PublishMessage } from '../../../protocol/signal-messages.ts';
import { unreachable } from '../../../protocol/unreachable.ts';
import type { PeerIdentity } from './identity.ts';
import { isRelayedRoute } from './link-route.ts';
import { MeshError, type PeerDownReason } from './mesh-errors.ts';
import { type MeshLimits, resolveMeshLimits } from './mesh-limits.ts';
import { MeshLink } from './mesh-link.ts';
import {
  connectPayload,
  isPeerKey,
  type MeshSignal,
  MeshSignalDataSchema,
  meshTopic,
  parseMeshSignal,
  signalPayload,
} from './mesh-signals.ts';
import type { MeshIceServer, MeshPeer, MeshPeerConstructor, MeshWrtc } from './mesh-simple-peer.ts';
import type { SignalChannel } from './signal-client.ts';
import { emptyTraffic, type TrafficStats, type Transport } from './transport.ts';

export interface PeerMeshOptions {
  readonly identity: PeerIdentity;
  /** Signaling; the mesh subscribes to its own topic and leaves it on destroy, never closes it. */
  readonly signal: SignalChannel;
  /** simple-peer's constructor: the browser bundle or the Node entry (see the file comment). */
  readonly SimplePeer: MeshPeerConstructor;
  /** Node's WebRTC (`@roamhq/wrtc`); leave out in the browser. */
  readonly wrtc?: MeshWrtc;
  /** STUN/TURN servers (the relay hands them out); none are needed on one machine. */
  readonly iceServers?: readonly MeshIceServer[];
  /** Topic namespace: only peers of the same run meet, and signatures name the run. */
  readonly runId: string;
  readonly limits?: Partial<MeshLimits>;
  /** Random bytes for nonces and session ids. */
  readonly random?: (bytes: number) => Uint8Array<ArrayBuffer>;
  /**
   * Whether to answer a peer we have not connect()ed to. By default only wanted peers are
   * answered: the other side's retry (or our connect request) brings them together once both
   * want each other, and strangers cannot fill our link slots.
   */
  readonly accept?: (key: string) => boolean;
}

/** Longest run id: the topic must fit the relay's 256-character cap with a key in it. */
export const MAX_RUN_ID_LENGTH = 128;
const SESSION_BYTES = 16;
/** Link set-up times kept for the median the page shows. */
const MAX_SETUPS_KEPT = 64;

type PeerUpHandler = (key: string) => void;
type PeerDownHandler = (key: string, reason: PeerDownReason) => void;
type MessageHandler = (from: string, message: Uint8Array) => void;
type PeerRefusedHandler = (key: string, error: FrameError) => void;

const defaultRandom = (bytes: number): Uint8Array<ArrayBuffer> =>
  crypto.getRandomValues(new Uint8Array(bytes));

/** Calls every handler; one that throws is reported on its own and does not stop the rest. */
function notify<A extends unknown[]>(handlers: Iterable<(...args: A) => void>, ...args: A): void {
  for (const handler of handlers) {
    try {
      handler(...args);
    } catch (error) {
      // Our state is already consistent; the caller's bug surfaces as an uncaught error.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

export class PeerMesh implements Transport {
  /** Our public key: what other peers connect() to. */
  readonly id: string;
  readonly traffic: TrafficStats = emptyTraffic();
  readonly limits: MeshLimits;
  /** Times a send waited for a channel to drain below the low-water mark (diagnostics). */
  backpressureWaits = 0;
  private readonly options: PeerMeshOptions;
  private readonly topic: string;
  private readonly random: (bytes: number) => Uint8Array<ArrayBuffer>;
  private readonly links = new Map<string, MeshLink>();
  private readonly wanted = new Set<string>();
  /** Why the last link to each key ended, kept for lastDownReason(). */
  private readonly downReasons = new Map<string, PeerDownReason>();
  /** Consecutive failed attempts per wanted key, for the backoff. */
  private readonly failures = new Map<string, number>();
  private readonly retryTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly messageHandlers = new Set<MessageHandler>();
  private readonly upHandlers = new Set<PeerUpHandler>();
  private readonly downHandlers = new Set<PeerDownHandler>();
  private readonly refusedHandlers = new Set<PeerRefusedHandler>();
  /** When each key was first wanted (or its unsolicited link opened): set-up time runs from here. */
  private readonly since = new Map<string, number>();
  /** Set-up times of the latest links, milliseconds (bounded). */
  private readonly setups: number[] = [];
  /** Keys whose link goes through a TURN relay (link-route.ts). */
  private readonly relayed = new Set<string>();
  /** waitForPeers() checks, run once more by destroy(). */
  private readonly destroyWaiters = new Set<() => void>();
  private readonly stopListening: () => void;
  private destroyed = false;

  constructor(options: PeerMeshOptions) {
    if (
      !(options.runId.length > 0 && options.runId.length <= MAX_RUN_ID_LENGTH && !options.runId.includes('/'))
    )
      throw new RangeError(`a run id is 1 to ${MAX_RUN_ID_LENGTH} characters without "/"`);
    if (!isPeerKey(options.identity.publicKey))
      throw new RangeError('the identity has no Ed25519 public key');
    this.options = options;
    this.limits = resolveMeshLimits(options.limits);
    this.random = options.random ?? defaultRandom;
    this.id = options.identity.publicKey;
    this.topic = meshTopic(options.runId, this.id);
    this.stopListening = options.signal.onPublish((message) => this.onPublish(message));
    options.signal.subscribe(this.topic);
  }

  /**
   * The links now, how many go through TURN, and the median time from wanting a peer to an
   * authenticated link over the latest links (null before any).
   */
  get linkStats(): { links: number; relayed: number; setupMs: number | null } {
    const sorted = [...this.setups].sort((a, b) => a - b);
    return {
      links: this.connectedPeers.length,
      relayed: [...this.relayed].filter((key) => this.isConnected(key)).length,
      setupMs: sorted.length > 0 ? (sorted[sorted.length >> 1] as number) : null,
    };
  }

  /** Keys with an authenticated link now. */
  get connectedPeers(): string[] {
    return [...this.links].filter(([, link]) => link.state === 'up').map(([key]) => key);
  }

  isConnected(key: string): boolean {
    return this.links.get(key)?.state === 'up';
  }

  /**
   * Why the last link or attempt for `key` ended, whether or not it was ever up ('auth-failed'
   * for a peer that could not prove its key, 'timeout' for one that never answered...).
   */
  lastDownReason(key: string): PeerDownReason | undefined {
    return this.downReasons.get(key);
  }

  /**
   * Wants links to these peers (a round's group), in addition to those already wanted, and
   * keeps trying until they are up or disconnect() is called. Returns at once; see
   * waitForPeers() and onPeerUp().
   */
  connect(keys: readonly string[]): void {
    this.assertAlive();
    for (const key of keys)
      if (!isPeerKey(key) || key === this.id)
        throw new MeshError('ERR_MESH_BAD_KEY', `cannot connect to ${JSON.stringify(key).slice(0, 80)}`);
    const more = new Set(keys.filter((key) => !this.wanted.has(key))).size;
    if (this.wanted.size + more > this.limits.maxPeers)
      throw new MeshError(
        'ERR_MESH_TOO_MANY_PEERS',
        `${this.wanted.size + more} peers > ${this.limits.maxPeers}`,
      );
    for (const key of keys) {
      if (this.wanted.has(key)) continue;
      this.wanted.add(key);
      if (!this.links.has(key)) this.since.set(key, Date.now());
      this.attempt(key);
    }
    this.trimReleased();
  }

  /** Wanted peers that may still be added (connect() refuses more). */
  get wantedRoom(): number {
    return Math.max(0, this.limits.maxPeers - this.wanted.size);
  }

  /**
   * Stops wanting `key` (it left this peer's group) but keeps its link while the slot is not
   * needed: groups are kept from round to round, so the peer may be wanted again, and closing
   * live WebRTC links while the other side closes its own crashed the Node WebRTC library in one
   * run of three. connect() closes released links, oldest first, once wanted ones need the room.
   */
  release(key: string): void {
    this.wanted.delete(key);
    this.since.delete(key);
    this.failures.delete(key);
    clearTimeout(this.retryTimers.get(key));
    this.retryTimers.delete(key);
  }

  /** Closes released links beyond what the cap leaves beside the wanted peers. */
  private trimReleased(): void {
    let excess = this.links.size + [...this.wanted].filter((key) => !this.links.has(key)).length;
    excess -= this.limits.maxPeers;
    for (const [key, link] of [...this.links]) {
      if (excess <= 0) return;
      if (this.wanted.has(key)) continue;
      link.close('disconnected');
      excess--;
    }
  }

  /** Stops wanting `key` and closes its link (onPeerDown with 'disconnected' if it was up). */
  disconnect(key: string): void {
    this.wanted.delete(key);
    this.since.delete(key);
    this.failures.delete(key);
    this.downReasons.delete(key);
    clearTimeout(this.retryTimers.get(key));
    this.retryTimers.delete(key);
    this.links.get(key)?.close('disconnected');
  }

  /** Resolves once every key has an authenticated link; ERR_MESH_TIMEOUT after timeoutMs. */
  waitForPeers(keys: readonly string[], timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle = (error?: MeshError): void => {
        clearTimeout(timer);
        stopUp();
        stopDown();
        this.destroyWaiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const check = (): void => {
        if (this.destroyed) settle(new MeshError('ERR_MESH_DESTROYED', 'the mesh was destroyed'));
        else if (keys.every((key) => this.isConnected(key))) settle();
      };
      const timer = setTimeout(() => {
        const missing = keys.filter((key) => !this.isConnected(key));
        settle(
          new MeshError('ERR_MESH_TIMEOUT', `not connected within ${timeoutMs} ms: ${missing.join(', ')}`),
        );
      }, timeoutMs);
      const stopUp = this.onPeerUp(check);
      // destroy() calls down handlers with 'destroyed' for up links; a mesh with none still
      // needs to hear of it, hence the explicit check in destroy() too.
      const stopDown = this.onPeerDown(check);
      this.destroyWaiters.add(check);
      check();
    });
  }

  onPeerUp(handler: PeerUpHandler): () => void {
    this.upHandlers.add(handler);
    return () => this.upHandlers.delete(handler);
  }

  onPeerDown(handler: PeerDownHandler): () => void {
    this.downHandlers.add(handler);
    return () => this.downHandlers.delete(handler);
  }

  /**
   * A peer announced a message above limits.maxMessageBytes: its first chunk is refused, before
   * anything of the announced size is allocated, and its link closes ('refused', then
   * onPeerDown if it was up).
   */
  onPeerRefused(handler: PeerRefusedHandler): () => void {
    this.refusedHandlers.add(handler);
    return () => this.refusedHandlers.delete(handler);
  }

  onMessage(handler: MessageHandler): () => void {
    this.messageHandlers.add(handler);
    return () => this.messageHandlers.delete(handler);
  }

  /**
   * Sends one whole message to `to`, after any earlier message to it. Resolves once every
   * chunk is queued on the channel (not when it arrives). Rejects with ERR_MESH_DESTROYED,
   * ERR_MESH_TOO_LARGE, ERR_MESH_NO_PEER (no authenticated link now) or ERR_MESH_PEER_CLOSED
   * (the link went down mid-message).
   */
  async send(to: string, message: Uint8Array): Promise<void> {
    this.assertAlive();
    if (message.byteLength > this.limits.maxMessageBytes)
      throw new MeshError(
        'ERR_MESH_TOO_LARGE',
        `${message.byteLength} bytes > ${this.limits.maxMessageBytes}`,
      );
    const link = this.links.get(to);
    if (link?.state !== 'up') throw new MeshError('ERR_MESH_NO_PEER', `no authenticated link to ${to}`);
    await link.send(message);
  }

  /**
   * Closes every link (onPeerDown with 'destroyed' for those up), leaves our signaling topic,
   * and fails later calls with ERR_MESH_DESTROYED. Safe to call twice.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.stopListening();
    this.options.signal.unsubscribe(this.topic);
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
    this.wanted.clear();
    this.downReasons.clear();
    for (const link of [...this.links.values()]) link.close('destroyed');
    for (const check of this.destroyWaiters) check();
    this.destroyWaiters.clear();
    this.messageHandlers.clear();
    this.upHandlers.clear();
    this.downHandlers.clear();
    this.refusedHandlers.clear();
  }

  private assertAlive(): void {
    if (this.destroyed) throw new MeshError('ERR_MESH_DESTROYED', 'the mesh was destroyed');
  }

  /** The smaller key initiates, so two peers wanting each other make one connection. */
  private initiates(key: string): boolean {
    return this.id < key;
  }

  /** One try at reaching a wanted key that has no link: an offer, or a request for one. */
  private attempt(key: string): void {
    clearTimeout(this.retryTimers.get(key));
    this.retryTimers.delete(key);
    if (this.destroyed || !this.wanted.has(key) || this.links.has(key)) return;
    if (this.initiates(key)) {
      this.open(key, encodeBase64url(this.random(SESSION_BYTES)), true);
      return;
    }
    // Give an offer already on its way the time to arrive, then ask for one.
    this.retryTimers.set(
      key,
      setTimeout(() => this.requestOffer(key), this.limits.offerGraceMs),
    );
  }

  private requestOffer(key: string): void {
    this.retryTimers.delete(key);
    if (this.destroyed || !this.wanted.has(key) || this.links.has(key)) return;
    this.options.signal.publish(meshTopic(this.options.runId, key), connectPayload(this.id));
    // If no offer comes (the request was lost, or the other side does not want us yet), ask again.
    this.retryTimers.set(
      key,
      setTimeout(() => this.attempt(key), this.limits.connectTimeoutMs),
    );
  }

  private scheduleRetry(key: string): void {
    if (this.destroyed || !this.wanted.has(key) || this.retryTimers.has(key)) return;
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const delay = Math.min(
      this.limits.maxReconnectDelayMs,
      this.limits.reconnectDelayMs * 2 ** (failures - 1),
    );
    this.retryTimers.set(
      key,
      setTimeout(() => this.attempt(key), delay),
    );
  }

  /** Unsolicited links may use only the slots wanted peers leave free. */
  private hasRoomFor(key: string): boolean {
    if (this.wanted.has(key)) return true;
    let unwanted = 0;
    for (const linked of this.links.keys()) if (!this.wanted.has(linked)) unwanted++;
    return this.wanted.size + unwanted < this.limits.maxPeers;
  }

  private welcomes(key: string): boolean {
    if (this.wanted.has(key)) return true;
    if (!this.options.accept?.(key)) return false;
    return this.hasRoomFor(key);
  }

  private open(key: string, session: string, initiator: boolean): MeshLink | undefined {
    const { SimplePeer, wrtc, iceServers, identity, runId } = this.options;
    let peer: MeshPeer;
    try {
      peer = new SimplePeer({
        initiator,
        trickle: true,
        config: { iceServers: [...(iceServers ?? [])] },
        ...(wrtc ? { wrtc } : {}),
      });
    } catch {
      // No WebRTC here (simple-peer's ERR_WEBRTC_SUPPORT) or a bad ICE config: try later.
      this.scheduleRetry(key);
      return undefined;
    }
    const link: MeshLink = new MeshLink({
      remoteKey: key,
      session,
      peer,
      identity,
      runId,
      limits: this.limits,
      random: this.random,
      traffic: this.traffic,
      onBackpressure: () => {
        this.backpressureWaits++;
      },
      events: {
        signal: (data) => this.publishSignal(key, session, data),
        up: () => {
          this.failures.delete(key);
          this.linkUp(key, peer);
          notify(this.upHandlers, key);
        },
        down: (reason, wasUp) => {
          if (this.links.get(key) === link) this.links.delete(key);
          this.relayed.delete(key);
          // Kept for wanted keys only (bounded by maxPeers); disconnect() forgets it.
          if (this.wanted.has(key)) this.downReasons.set(key, reason);
          if (wasUp) notify(this.downHandlers, key, reason);
          if (reason !== 'replaced' && reason !== 'disconnected' && reason !== 'destroyed')
            this.scheduleRetry(key);
        },
        message: (bytes) => notify(this.messageHandlers, key, bytes),
        refused: (error) => notify(this.refusedHandlers, key, error),
      },
    });
    this.links.set(key, link);
    return link;
  }

  /** Notes how long the link took and, once the statistics say, whether it goes through TURN. */
  private linkUp(key: string, peer: MeshPeer): void {
    const since = this.since.get(key);
    this.since.delete(key);
    if (since !== undefined) {
      this.setups.push(Date.now() - since);
      if (this.setups.length > MAX_SETUPS_KEPT) this.setups.shift();
    }
    try {
      peer.getStats?.((error, reports) => {
        if (!error && isRelayedRoute(reports) === true && this.isConnected(key)) this.relayed.add(key);
      });
    } catch {
      // No statistics here: the link is shown as direct.
    }
  }

  private publishSignal(key: string, session: string, data: unknown): void {
    // Only what the other side will accept goes out (simple-peer also emits renegotiation
    // requests, which a data-only connection never needs).
    const parsed = safeParse(MeshSignalDataSchema, data);
    if (!parsed.success) return;
    this.options.signal.publish(
      meshTopic(this.options.runId, key),
      signalPayload(this.id, session, parsed.output),
    );
  }

  private onPublish(message: PublishMessage): void {
    if (this.destroyed || message.topic !== this.topic) return;
    const signal = parseMeshSignal(message);
    // The relay echoes our own publishes back to us; those are never for us.
    if (!signal || signal.from === this.id) return;
    switch (signal.kind) {
      case 'connect':
        this.onConnectRequest(signal.from);
        return;
      case 'signal':
        this.onSignal(signal);
        return;
      default: {
        unreachable(signal, 'mesh signal');
      }
    }
  }

  /**
   * The larger key asks us to initiate: it has no link to us, whatever we believe. Signaling
   * is not authenticated (anyone may publish `from: <any key>`), so nothing arriving through
   * it ends an authenticated link: if the other side really lost it, our channel closes too
   * and our own retry reconnects.
   */
  private onConnectRequest(from: string): void {
    if (!this.initiates(from) || !this.welcomes(from)) return;
    const link = this.links.get(from);
    if (link?.state === 'up') return;
    link?.close('replaced');
    clearTimeout(this.retryTimers.get(from));
    this.retryTimers.delete(from);
    this.open(from, encodeBase64url(this.random(SESSION_BYTES)), true);
  }

  private onSignal(signal: Extract<MeshSignal, { kind: 'signal' }>): void {
    const { from, session, signal: data } = signal;
    const link = this.links.get(from);
    if (link?.session === session) {
      // Offers come from the initiator, answers from the other side; nothing else is ours.
      if (data.type !== (this.initiates(from) ? 'offer' : 'answer')) link.signal(data);
      return;
    }
    // A new session: only the initiator starts one, and only with an offer; and as with
    // connect requests, an unauthenticated offer never displaces an authenticated link.
    if (this.initiates(from) || data.type !== 'offer' || !this.welcomes(from)) return;
    if (link?.state === 'up') return;
    link?.close('replaced');
    clearTimeout(this.retryTimers.get(from));
    this.retryTimers.delete(from);
    this.open(from, session, false)?.signal(data);
  }
}
