// The headless volunteer: the browser's peer runtime (web/src/peer/) run from Node, with
// WebGPU through Dawn (the `webgpu` package), WebRTC through @roamhq/wrtc (prebuilt per
// platform, no build step), and a folder instead of IndexedDB. It speaks the same protocol
// as a tab, so the two train together in one round.

import type { TuneCache } from '../../kernels/gpu/autotune.ts';
import type { GpuContext } from '../../kernels/gpu/context.ts';
import { noiseStreamOf } from '../../kernels/round/round-engine.ts';
import { LocalVolunteerEngine } from '../../kernels/round/volunteer-engine.ts';
import { initParams } from '../../protocol/init-params.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import { adapterReport } from '../src/peer/swarm-client.ts';
import { Volunteer, type VolunteerEvent } from '../src/peer/volunteer.ts';
import type { FileVolunteerStore } from './file-store.ts';
import { connectToRelay, type NodeLink, refuseRun, stopOnce } from './node-connection.ts';

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

/** Joins a DiLoCo run; `link` when the caller already connected (to see which kind of run it is). */
export async function startNodeVolunteer(
  options: NodeVolunteerOptions,
  given?: NodeLink,
): Promise<NodeVolunteer> {
  const link = given ?? (await connectToRelay(options));
  const { store, identity, client, relay, config, mesh } = link;
  if (config.pipeline)
    refuseRun(link, 'this run is pipeline parallel: join it with startNodePipelineVolunteer');
  const totalFloats = paramLayout(config.model).totalFloats;
  const engine = await LocalVolunteerEngine.create({
    ctx: options.ctx,
    config,
    initial: { weights: initParams(config.model, config.seed), momentum: new Float32Array(totalFloats) },
    tuneCache: options.tuneCache,
    noiseStream: noiseStreamOf(config.seed, identity.publicKey),
  });
  if (options.dutyCycle !== undefined) await engine.setDutyCycle(options.dutyCycle);
  const volunteer = new Volunteer({
    client,
    network: mesh,
    engine,
    relay,
    store,
    runId: client.runId,
    speed: { tokensPerSec: 0, uplinkBytesPerSec: 0, downlinkBytesPerSec: 0 },
    adapter: adapterReport(options.ctx.adapter),
    paramCount: paramLayout(config.model).paramCount,
    onEvent: options.onEvent,
  });
  await volunteer.start();
  return {
    volunteer,
    peerId: identity.publicKey,
    runId: client.runId,
    store,
    stop: stopOnce(
      link,
      () => volunteer.stop(),
      () => engine.destroy(),
    ),
  };
}
