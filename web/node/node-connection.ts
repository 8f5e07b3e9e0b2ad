// What every headless volunteer opens first, whichever way the run trains: its key and state
// folder, the identity's proof-of-work stamp for the run (minted once, kept there), the authenticated `/swarm` connection, the relay's HTTP API and run config, and the
// WebRTC mesh (simple-peer over @roamhq/wrtc, signaled through the relay's `/signal`). The
// `/swarm` connection is kept (reconnecting-link.ts): after a drop or a relay restart the
// volunteer comes back with the same key, store and mesh (whose `/signal` reconnects itself),
// on the next of the run's relays when it has several (relay-rotation.ts): the `/swarm`
// connection, the HTTP API and the `/signal` socket all go to the relay in use.
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import WebSocket from 'ws';
import type { GpuContext } from '../../kernels/gpu/context.ts';
import { identityFromKeyPair } from '../src/peer/identity.ts';
import { keptStamps, type StampSource } from '../src/peer/kept-stamp.ts';
import type { MeshPeerConstructor, MeshWrtc } from '../src/peer/mesh-simple-peer.ts';
import type { Backoff } from '../src/peer/reconnect-backoff.ts';
import {
  attachPeers,
  type ConnectionPeer,
  linkStatusText,
  ReconnectingLink,
} from '../src/peer/reconnecting-link.ts';
import { RelayRotation } from '../src/peer/relay-rotation.ts';
import { connectToRelay as joinRun, openMesh, type RunLink } from '../src/peer/run-link.ts';
import { mintStamp } from '../src/peer/stamp-mint.ts';
import { FileVolunteerStore } from './file-store.ts';

export interface NodeLink extends RunLink {
  readonly store: FileVolunteerStore;
  readonly stamps: StampSource;
  /** The run's relays as the welcomes named them; `relays.current` is the one in use or being tried. */
  readonly relays: RelayRotation;
}

const NODE = {
  platform: 'node',
  socket: (url: string) => new WebSocket(url) as never,
  SimplePeer: SimplePeer as unknown as MeshPeerConstructor,
  wrtc: wrtc as unknown as MeshWrtc,
} as const;

export async function connectToRelay(options: {
  relay: string;
  name: string;
  stateDir: string;
  /** Told when the identity's stamp must be minted (seconds), and how far it got. */
  onStatus?: (text: string) => void;
}): Promise<NodeLink> {
  const store = await FileVolunteerStore.open(options.stateDir);
  const identity = await identityFromKeyPair(await store.keyPair());
  const stamps = keptStamps(store, identity.publicKey, (runId, publicKey, bits) => {
    options.onStatus?.(`proving the identity for ${runId} (${bits} bits, once per run)…`);
    return mintStamp(runId, publicKey, bits);
  });
  const relays = new RelayRotation(options.relay);
  const link = await joinRun(relays.current, identity, stamps, options.name, NODE);
  return { ...(await openMesh(() => relays.current, link, NODE)), store, stamps, relays };
}

/**
 * A new `/swarm` connection for `link`'s volunteer to the relay in use: the same key, stamps,
 * store, relays and mesh, and that relay's HTTP API.
 */
async function reconnect(name: string, link: NodeLink): Promise<NodeLink> {
  const joined = await joinRun(link.relays.current, link.identity, link.stamps, name, NODE);
  const { signal, mesh, store, stamps, relays } = link;
  return { ...joined, signal, mesh, store, stamps, relays };
}

/** What every headless volunteer is started with; `Event` is what its volunteer reports. */
export interface HeadlessOptions<Event> {
  /** http(s)://host:port of the relay first reached; the run's other relays are learnt from it. */
  readonly relay: string;
  readonly name: string;
  /** Keeps the key, the receipts and (in a DiLoCo run) the last committed state. */
  readonly stateDir: string;
  readonly ctx: GpuContext;
  /** The volunteer's events, and the connection's (reconnecting-link.ts) as status lines. */
  readonly onEvent?: (event: Event) => void;
  /** The reconnect's back-off; the default waits 0.5 s doubling to 15 s, ±50%. */
  readonly backoff?: Backoff;
  /**
   * Told each `/swarm` connection, the first and each after a drop, before its volunteer
   * starts: the swarm document follows the members each one's relay names (swarm-members.ts).
   */
  readonly onLink?: (link: NodeLink) => void;
}

/** The event every kind of volunteer reports alike, which the connection's status is told as. */
type StatusEvent = { readonly type: 'status'; readonly text: string };

/**
 * The link for a run of one kind (`pipeline` or DiLoCo rounds): `given` when the caller already
 * connected (to see which kind of run it is). A run of the other kind is turned away: what the
 * link opened is closed, and it throws.
 */
async function linkForRun(
  options: HeadlessOptions<StatusEvent>,
  given: NodeLink | undefined,
  pipeline: boolean,
): Promise<NodeLink> {
  const link = given ?? (await connectToRelay(options));
  if (Boolean(link.config.pipeline) === pipeline) return link;
  link.mesh.destroy();
  link.signal.close();
  link.client.close('another kind of run');
  throw new Error(
    pipeline
      ? 'this run trains in DiLoCo rounds: join it with startNodeVolunteer'
      : 'this run is pipeline parallel: join it with startNodePipelineVolunteer',
  );
}

/** A headless volunteer, whichever way its run trains. */
export interface HeadlessVolunteer<V> {
  /** The volunteer on the current connection (a fresh one after each reconnect). */
  readonly volunteer: V;
  readonly peerId: string;
  readonly runId: string;
  readonly store: FileVolunteerStore;
  /** The run's relays as the welcomes named them; `relays.current` is the one in use or being tried. */
  readonly relays: RelayRotation;
  /** Resolves when it stopped for good (stop(), or a refusal no retry changes), with why. */
  readonly ended: Promise<string>;
  /** Leaves the relay and the mesh at once, then frees the engine. Safe to call twice. */
  stop(): Promise<void>;
}

/** What a kind of volunteer builds on its first link: one engine, and a volunteer per connection. */
export interface HeadlessParts<V> {
  /** The volunteer on one connection, not started yet. */
  readonly volunteerOn: (link: NodeLink) => V;
  /** After a connection dropped and its volunteer went idle: what its abandoned work left goes. */
  readonly abandon: () => Promise<void>;
  /** Frees the engine when the volunteer leaves for good; `left` resolves once its work stopped. */
  readonly release: (left: Promise<void>) => Promise<void>;
}

/**
 * Starts a headless volunteer of one kind (`pipeline` or DiLoCo rounds) on `given`, or on a link
 * it opens: `build` makes the engine on the link, then a volunteer is started on each connection
 * to the relay, the first and every one after a drop (reconnecting-link.ts).
 */
export async function startHeadless<V extends ConnectionPeer>(
  options: HeadlessOptions<StatusEvent>,
  given: NodeLink | undefined,
  pipeline: boolean,
  build: (link: NodeLink) => Promise<HeadlessParts<V>>,
): Promise<HeadlessVolunteer<V>> {
  const first = await linkForRun(options, given, pipeline);
  options.onLink?.(first);
  const parts = await build(first);
  let current: V | null = null;
  const link = await ReconnectingLink.start(first, {
    connect: async () => {
      const next = await reconnect(options.name, first);
      options.onLink?.(next);
      return next;
    },
    relays: first.relays,
    attach: attachPeers(parts.volunteerOn, parts.abandon, (volunteer) => {
      current = volunteer;
    }),
    onStatus: (status) => options.onEvent?.({ type: 'status', text: linkStatusText(status) }),
    backoff: options.backoff,
  });
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      const left = link.stop('leaving');
      first.mesh.destroy();
      first.signal.close();
      await parts.release(left);
      await left;
    })();
    return stopping;
  };
  return {
    get volunteer() {
      return current as V;
    },
    peerId: first.identity.publicKey,
    runId: first.client.runId,
    store: first.store,
    relays: first.relays,
    ended: link.ended,
    stop,
  };
}
