// What every headless volunteer opens first, whichever way the run trains: its key and state
// folder, the authenticated `/swarm` connection, the relay's HTTP API and run config, and the
// WebRTC mesh (simple-peer over @roamhq/wrtc, signaled through the relay's `/signal`).
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import WebSocket from 'ws';
import type { RunConfig } from '../../protocol/run-config.ts';
import { identityFromKeyPair, type PeerIdentity } from '../src/peer/identity.ts';
import { PeerMesh } from '../src/peer/mesh.ts';
import type { MeshPeerConstructor, MeshWrtc } from '../src/peer/mesh-simple-peer.ts';
import { RelayApi } from '../src/peer/relay-api.ts';
import { SignalClient } from '../src/peer/signal-client.ts';
import { SwarmClient, type SwarmSocket } from '../src/peer/swarm-client.ts';
import { FileVolunteerStore } from './file-store.ts';

export interface NodeLink {
  readonly store: FileVolunteerStore;
  readonly identity: PeerIdentity;
  readonly client: SwarmClient;
  readonly relay: RelayApi;
  readonly config: RunConfig;
  readonly signal: SignalClient;
  readonly mesh: PeerMesh;
}

export async function connectToRelay(options: {
  relay: string;
  name: string;
  stateDir: string;
}): Promise<NodeLink> {
  const store = await FileVolunteerStore.open(options.stateDir);
  const identity = await identityFromKeyPair(await store.keyPair());
  const wsBase = options.relay.replace(/^http/, 'ws');
  const client = await SwarmClient.connect({
    url: `${wsBase}/swarm`,
    identity,
    name: options.name,
    platform: 'node',
    socket: (url) => new WebSocket(url) as unknown as SwarmSocket,
  });
  const relay = new RelayApi(options.relay, client.runId);
  const config = await relay.runConfig(client.configHash);
  const signal = new SignalClient({ url: `${wsBase}/signal`, socket: (url) => new WebSocket(url) as never });
  await signal.ready();
  const mesh = new PeerMesh({
    identity,
    signal,
    SimplePeer: SimplePeer as unknown as MeshPeerConstructor,
    wrtc: wrtc as unknown as MeshWrtc,
    runId: client.runId,
    iceServers: client.iceServers,
  });
  return { store, identity, client, relay, config, signal, mesh };
}

/**
 * Turns away a run of the other kind (a round volunteer joined a pipeline run, or the reverse):
 * closes what the link opened, then throws with `message`.
 */
export function refuseRun(link: NodeLink, message: string): never {
  link.mesh.destroy();
  link.signal.close();
  link.client.close('another kind of run');
  throw new Error(message);
}

/**
 * A headless volunteer's stop(), safe to call twice: it leaves the relay and the mesh at once,
 * then waits for the GPU work under way before freeing the engine.
 */
export function stopOnce(
  link: NodeLink,
  leave: () => void,
  release: () => Promise<void>,
): () => Promise<void> {
  let stopping: Promise<void> | null = null;
  return () => {
    stopping ??= (async () => {
      leave();
      link.mesh.destroy();
      link.signal.close();
      await release();
    })();
    return stopping;
  };
}
