// What a volunteer opens to join the relay's run, the same in a tab and headless: the
// authenticated `/swarm` connection, the relay's HTTP API and the run config it serves, then the
// WebRTC mesh signaled through the relay's `/signal`; and the round runtime (volunteer.ts) on
// top of them, before it has measured anything.

import { maxAggregateFrameBytes } from '../../../protocol/aggregate-frame.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import type { RunConfig } from '../../../protocol/run-config.ts';
import type { PeerIdentity } from './identity.ts';
import type { StampSource } from './kept-stamp.ts';
import { PeerMesh } from './mesh.ts';
import { runMeshLimits } from './mesh-limits.ts';
import type { MeshPeerConstructor, MeshWrtc } from './mesh-simple-peer.ts';
import { listRuns, RelayApi } from './relay-api.ts';
import { SignalClient, type SignalSocket } from './signal-client.ts';
import { SwarmClient, type SwarmSocket } from './swarm-client.ts';
import { Volunteer, type VolunteerOptions } from './volunteer.ts';

export interface RelayLink {
  readonly identity: PeerIdentity;
  readonly client: SwarmClient;
  readonly relay: RelayApi;
  readonly config: RunConfig;
}

export interface RunLink extends RelayLink {
  readonly signal: SignalClient;
  readonly mesh: PeerMesh;
}

/** The platform's WebSocket and WebRTC. */
export interface LinkPlatform {
  readonly platform: 'browser' | 'node';
  readonly socket: (url: string) => SwarmSocket & SignalSocket;
  readonly SimplePeer: MeshPeerConstructor;
  /** Node's WebRTC (`@roamhq/wrtc`); none in the browser. */
  readonly wrtc?: MeshWrtc;
}

/**
 * Mints (or finds kept) the identity's stamp for the relay's run before the socket opens: a
 * fresh stamp takes seconds, longer than the relay waits for a hello. A relay that cannot say
 * is left to the handshake, which asks `stamps` again with the challenge's run and difficulty.
 */
export async function proveIdentity(relay: string, stamps: StampSource): Promise<void> {
  const runs = await listRuns(relay).catch(() => []);
  for (const run of runs) await stamps(run.id, run.stampBits);
}

/** Joins the relay's run (`relay`: its http(s) origin) and fetches the run config. */
export async function connectToRelay(
  relay: string,
  identity: PeerIdentity,
  stamps: StampSource,
  name: string,
  platform: LinkPlatform,
): Promise<RelayLink> {
  await proveIdentity(relay, stamps);
  const client = await SwarmClient.connect({
    url: `${relay.replace(/^http/, 'ws')}/swarm`,
    identity,
    stamps,
    name,
    platform: platform.platform,
    socket: platform.socket,
  });
  const api = new RelayApi(relay, client.runId);
  try {
    return { identity, client, relay: api, config: await api.runConfig(client.configHash) };
  } catch (error) {
    client.close('no run config'); // nobody else holds this connection to close it
    throw error;
  }
}

const signalUrl = (relay: string) => `${relay.replace(/^http/, 'ws')}/signal`;

/**
 * Opens the run's mesh once signaling is up; `relay`: its http(s) origin, or what gives the relay
 * in use, which the signaling socket follows when it reconnects (relay-rotation.ts).
 */
export async function openMesh(
  relay: string | (() => string),
  link: RelayLink,
  platform: LinkPlatform,
): Promise<RunLink> {
  const url = typeof relay === 'string' ? signalUrl(relay) : () => signalUrl(relay());
  const signal = new SignalClient({ url, socket: platform.socket });
  await signal.ready();
  const mesh = new PeerMesh({
    identity: link.identity,
    signal,
    SimplePeer: platform.SimplePeer,
    wrtc: platform.wrtc,
    runId: link.client.runId,
    iceServers: link.client.iceServers,
    limits: runMeshLimits(link.config),
    // A data-parallel volunteer answers members it did not ask for, in the slots its group
    // leaves free: one catching up fetches the committed state from holders the relay named.
    accept: () => !link.config.pipeline,
  });
  return { ...link, signal, mesh };
}

/** The round runtime on `link`: it reports no speed until it has trained. */
export function roundVolunteer(
  link: RunLink,
  parts: Pick<VolunteerOptions, 'engine' | 'store' | 'adapter' | 'paramCount' | 'onEvent'>,
): Volunteer {
  return new Volunteer({
    ...parts,
    client: link.client,
    network: link.mesh,
    relay: link.relay,
    runId: link.client.runId,
    speed: { tokensPerSec: 0, uplinkBytesPerSec: 0, downlinkBytesPerSec: 0 },
    maxAggregateBytes: maxAggregateFrameBytes(paramLayout(link.config.model).totalFloats, link.config.round),
  });
}
