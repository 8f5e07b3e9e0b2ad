// What a headless volunteer's events say about it in the swarm document: the same fields a tab
// publishes from the same events (web/src/volunteer/round-view.ts, pipeline-page.ts), so its
// row in another volunteer's table reads like a tab's.
import type { PipelineEvent } from '../src/peer/pipeline-events.ts';
import type { MetricsUpdate } from '../src/peer/swarm-doc.ts';
import type { VolunteerEvent } from '../src/peer/volunteer.ts';

/** A DiLoCo round event's update of our entry, or null for events the table does not show. */
export function roundSwarmUpdate(event: VolunteerEvent): MetricsUpdate | null {
  switch (event.type) {
    case 'step':
      return {
        round: event.round,
        phase: 'training',
        loss: event.progress.loss,
        tokensPerSec: event.progress.tokensPerSec,
      };
    case 'round':
      return { round: event.round, phase: event.phase };
    case 'traffic':
      return { bytesSent: event.bytesSent, bytesReceived: event.bytesReceived };
    case 'status':
    case 'committed':
    case 'receipt':
    case 'head':
      return null;
  }
}

/** A pipeline step's phases as the swarm table names a round's (as pipeline-page.ts does). */
const STAGE_PHASE = {
  microbatches: 'training',
  sync: 'exchanging',
  reported: 'summing',
  committed: 'committed',
  aborted: 'aborted',
} as const;

/** A pipeline event's update of our entry, or null for events the table does not show. */
export function stageSwarmUpdate(event: PipelineEvent): MetricsUpdate | null {
  switch (event.type) {
    case 'step':
      return { round: event.step, phase: STAGE_PHASE[event.phase] };
    case 'microbatch':
      return event.loss === null ? null : { loss: event.loss };
    case 'traffic':
      return { bytesSent: event.bytesSent, bytesReceived: event.bytesReceived };
    case 'status':
    case 'stage':
    case 'committed':
    case 'receipt':
      return null;
  }
}
