// The headless volunteer in a pipeline-parallel run: the same peer runtime as a tab
// (web/src/peer/pipeline-volunteer.ts) over the same connection (node-connection.ts), with its
// stage on Dawn in-process.
import { LocalStageVolunteerEngine } from '../../kernels/pipeline/stage-volunteer-engine.ts';
import { noiseStreamOf } from '../../protocol/noise-stream.ts';
import { HeldStage } from '../src/peer/held-stage.ts';
import type { PipelineEvent } from '../src/peer/pipeline-events.ts';
import { PipelineVolunteer } from '../src/peer/pipeline-volunteer.ts';
import { adapterReport } from '../src/peer/swarm-client.ts';
import {
  type HeadlessOptions,
  type HeadlessVolunteer,
  type NodeLink,
  startHeadless,
} from './node-connection.ts';

export interface NodePipelineVolunteerOptions extends HeadlessOptions<PipelineEvent> {
  /** Bytes of GPU memory offered to the stage planner. */
  readonly memoryBytes?: number;
}

export type NodePipelineVolunteer = HeadlessVolunteer<PipelineVolunteer>;

/** Joins a pipeline run; `link` when the caller already connected (to see which kind of run it is). */
export function startNodePipelineVolunteer(
  options: NodePipelineVolunteerOptions,
  given?: NodeLink,
): Promise<NodePipelineVolunteer> {
  return startHeadless(options, given, true, async (link) => {
    const engine = new LocalStageVolunteerEngine(
      options.ctx,
      link.config,
      noiseStreamOf(link.config.seed, link.identity.publicKey),
    );
    const held = new HeldStage();
    return {
      volunteerOn: ({ store, client, relay, mesh }) =>
        new PipelineVolunteer({
          client,
          network: mesh,
          engine,
          held,
          relay,
          store,
          capabilities: {
            adapter: adapterReport(options.ctx.adapter),
            maxBufferBytes: 1 << 30,
            memoryBytes: options.memoryBytes ?? 1 << 30,
            tokensPerSec: 0,
            uplinkBytesPerSec: 0,
            downlinkBytesPerSec: 0,
          },
          onEvent: options.onEvent,
        }),
      // The stage outlives a drop: the stopped volunteer rolled back its step in flight as it
      // went idle, and the next one claims the stage's committed state in its `ready`.
      abandon: async () => {},
      release: async (left) => {
        await left; // the GPU work under way stops before the stage is freed
        await engine.destroy();
      },
    };
  });
}
