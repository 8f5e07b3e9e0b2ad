// What every headless volunteer opens first, whichever way the run trains: its key and state
// folder, the authenticated `/swarm` connection, the relay's HTTP API and run config, and the
// WebRTC mesh (simple-peer over @roamhq/wrtc, signaled through the relay's `/signal`).
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import WebSocket from 'ws';
import type { GpuContext } from '../../kernels/gpu/context.ts';
import { identityFromKeyPair } from '../src/peer/identity.ts';
import type { MeshPeerConstructor, MeshWrtc } from '../src/peer/mesh-simple-peer.ts';
import { connectToRelay as joinRun, openMesh, type RunLink } from '../src/peer/run-link.ts';
import type { Volunteer } from '../src/peer/volunteer.ts';
import { FileVolunteerStore } from './file-store.ts';

export interface NodeLink extends RunLink {
  readonly store: FileVolunteerStore;
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
}): Promise<NodeLink> {
  const store = await FileVolunteerStore.open(options.stateDir);
  const identity = await identityFromKeyPair(await store.keyPair());
  const link = await joinRun(options.relay, identity, options.name, NODE);
  return { ...(await openMesh(options.relay, link, NODE)), store };
}

/** What every headless volunteer is started with; `Event` is what its volunteer reports. */
export interface HeadlessOptions<Event> {
  /** http(s)://host:port of the relay. */
  readonly relay: string;
  readonly name: string;
  /** Keeps the key, the receipts and (in a DiLoCo run) the last committed state. */
  readonly stateDir: string;
  readonly ctx: GpuContext;
  readonly onEvent?: (event: Event) => void;
}

/**
 * The link for a run of one kind (`pipeline` or DiLoCo rounds): `given` when the caller already
 * connected (to see which kind of run it is). A run of the other kind is turned away: what the
 * link opened is closed, and it throws.
 */
async function linkForRun(
  options: HeadlessOptions<never>,
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
  readonly volunteer: V;
  readonly peerId: string;
  readonly runId: string;
  readonly store: FileVolunteerStore;
  stop(): Promise<void>;
}

/**
 * The headless volunteer on `link`. Its stop() is safe to call twice: it leaves the relay and
 * the mesh at once, then waits for the GPU work under way before freeing the engine (`release`).
 */
function headless<V extends Pick<Volunteer, 'stop'>>(
  link: NodeLink,
  volunteer: V,
  release: () => Promise<void>,
): HeadlessVolunteer<V> {
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      volunteer.stop();
      link.mesh.destroy();
      link.signal.close();
      await release();
    })();
    return stopping;
  };
  return { volunteer, peerId: link.identity.publicKey, runId: link.client.runId, store: link.store, stop };
}

/** What a kind of volunteer builds on its link: the volunteer, not started yet, and how to free its engine. */
export interface HeadlessParts<V> {
  readonly volunteer: V;
  readonly release: () => Promise<void>;
}

/**
 * Starts a headless volunteer of one kind (`pipeline` or DiLoCo rounds) on `given`, or on a link
 * it opens: `build` makes the volunteer and its engine on the link, then it is started.
 */
export async function startHeadless<V extends Pick<Volunteer, 'start' | 'stop'>>(
  options: HeadlessOptions<never>,
  given: NodeLink | undefined,
  pipeline: boolean,
  build: (link: NodeLink) => Promise<HeadlessParts<V>>,
): Promise<HeadlessVolunteer<V>> {
  const link = await linkForRun(options, given, pipeline);
  const { volunteer, release } = await build(link);
  await volunteer.start();
  return headless(link, volunteer, release);
}
