// The headless volunteer: the browser's peer runtime (web/src/peer/) run from Node, with
// WebGPU through Dawn (the `webgpu` package), WebRTC through @roamhq/wrtc (prebuilt per
// platform, no build step), and a folder instead of IndexedDB. It speaks the same protocol
// as a tab, so the two train together in one round.

import type { TuneCache } from '../../kernels/gpu/autotune.ts';
import { LocalVolunteerEngine } from '../../kernels/round/volunteer-engine.ts';
import { noiseStreamOf } from '../../protocol/noise-stream.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import { roundVolunteer } from '../src/peer/run-link.ts';
import { adapterReport } from '../src/peer/swarm-client.ts';
import type { Volunteer, VolunteerEvent } from '../src/peer/volunteer.ts';
import {
  type HeadlessOptions,
  type HeadlessVolunteer,
  type NodeLink,
  startHeadless,
} from './node-connection.ts';

export interface NodeVolunteerOptions extends HeadlessOptions<VolunteerEvent> {
  readonly tuneCache: TuneCache;
  /** Fraction of the time the GPU may work, in (0, 1]. */
  readonly dutyCycle?: number;
}

export type NodeVolunteer = HeadlessVolunteer<Volunteer>;

/** Joins a DiLoCo run; `link` when the caller already connected (to see which kind of run it is). */
export function startNodeVolunteer(options: NodeVolunteerOptions, given?: NodeLink): Promise<NodeVolunteer> {
  return startHeadless(options, given, false, async (link) => {
    const { identity, config } = link;
    const engine = await LocalVolunteerEngine.create({
      ctx: options.ctx,
      config,
      tuneCache: options.tuneCache,
      noiseStream: noiseStreamOf(config.seed, identity.publicKey),
    });
    if (options.dutyCycle !== undefined) await engine.setDutyCycle(options.dutyCycle);
    return {
      volunteerOn: (connection) =>
        roundVolunteer(connection, {
          engine,
          store: connection.store,
          adapter: adapterReport(options.ctx.adapter),
          paramCount: paramLayout(config.model).paramCount,
          onEvent: options.onEvent,
        }),
      // A round the relay forgot when the connection dropped: its pending outer step goes.
      abandon: () => engine.discard(),
      release: () => engine.destroy(), // it stops the training under way at its next step itself
    };
  });
}
