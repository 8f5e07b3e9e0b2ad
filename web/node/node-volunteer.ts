// The headless volunteer: the browser's peer runtime (web/src/peer/) run from Node, with
// WebGPU through Dawn (the `webgpu` package), WebRTC through @roamhq/wrtc (prebuilt per
// platform, no build step), and a folder instead of IndexedDB. It speaks the same protocol
// as a tab, so the two train together in one round.
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import WebSocket from 'ws';
import { initParams } from '../../kernels/gpt/init.ts';
import { paramLayout } from '../../kernels/gpt/layout.ts';
import type { TuneCache } from '../../kernels/gpu/autotune.ts';
import type { GpuContext } from '../../kernels/gpu/context.ts';
import { noiseStreamOf } from '../../kernels/round/round-engine.ts';
import { LocalVolunteerEngine } from '../../kernels/round/volunteer-engine.ts';
import { identityFromKeyPair } from '../src/peer/identity.ts';
import { PeerMesh } from '../src/peer/mesh.ts';
import type { MeshPeerConstructor, MeshWrtc } from '../src/peer/mesh-simple-peer.ts';
import { RelayApi } from '../src/peer/relay-api.ts';
import { SignalClient } from '../src/peer/signal-client.ts';
import { SwarmClient, type SwarmSocket } from '../src/peer/swarm-client.ts';
import { Volunteer, type VolunteerEvent } from '../src/peer/volunteer.ts';
import { FileVolunteerStore } from './file-store.ts';

export interface NodeVolunteerOptions {
  /** http(s)://host:port of the relay. */
  readonly relay: string;
  readonly name: string;
  /** Keeps the key, the last committed state and the receipts. */
  readonly stateDir: string;
  readonly ctx: GpuContext;
  readonly tuneCache: TuneCache;
  /** Fraction of the time the GPU may work, in (0, 1]. */
  readonly dutyCycle?: number;
  readonly onEvent?: (event: VolunteerEvent) => void;
}

export interface NodeVolunteer {
  readonly volunteer: Volunteer;
  readonly peerId: string;
  readonly runId: string;
  readonly store: FileVolunteerStore;
  stop(): Promise<void>;
}

export async function startNodeVolunteer(options: NodeVolunteerOptions): Promise<NodeVolunteer> {
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
  const totalFloats = paramLayout(config.model).totalFloats;
  const engine = await LocalVolunteerEngine.create({
    ctx: options.ctx,
    config,
    initial: { weights: initParams(config.model, config.seed), momentum: new Float32Array(totalFloats) },
    tuneCache: options.tuneCache,
    noiseStream: noiseStreamOf(config.seed, identity.publicKey),
  });
  if (options.dutyCycle !== undefined) await engine.setDutyCycle(options.dutyCycle);
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
  const { adapter } = options.ctx;
  const volunteer = new Volunteer({
    client,
    network: mesh,
    engine,
    relay,
    store,
    runId: client.runId,
    speed: { tokensPerSec: 0, uplinkBytesPerSec: 0, downlinkBytesPerSec: 0 },
    adapter: {
      vendor: adapter.vendor,
      architecture: adapter.architecture,
      description: adapter.description,
      isSoftware: adapter.isSoftware,
    },
    paramCount: paramLayout(config.model).paramCount,
    onEvent: options.onEvent,
  });
  await volunteer.start();
  let stopping: Promise<void> | null = null;
  return {
    volunteer,
    peerId: identity.publicKey,
    runId: client.runId,
    store,
    stop() {
      stopping ??= (async () => {
        volunteer.stop();
        mesh.destroy();
        signal.close();
        await engine.destroy();
      })();
      return stopping;
    },
  };
}
