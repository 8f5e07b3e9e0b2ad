// A pipeline run for end-to-end tests: its coordinator, headless pipeline volunteers enlisted
// in it, and (with POTLUCK_TEST_LOG set) their events on stderr beside the relay's log.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipelineCoordinator } from '../../relay/pipeline/pipeline-coordinator.ts';
import type { RelayHandle } from '../../relay/server.ts';
import {
  type NodePipelineVolunteer,
  startNodePipelineVolunteer,
} from '../../web/node/node-pipeline-volunteer.ts';
import type { PipelineEvent } from '../../web/src/peer/pipeline-events.ts';
import { nodeContext } from './node-context.ts';

export function pipelineCoordinator(relay: RelayHandle): PipelineCoordinator {
  const c = relay.run.coordinator;
  if (!(c instanceof PipelineCoordinator)) throw new Error('the relay did not open a pipeline run');
  return c;
}

function logEvent(name: string, event: PipelineEvent): void {
  if (event.type !== 'microbatch' && event.type !== 'traffic')
    process.stderr.write(`${new Date().toISOString()} ${name} ${JSON.stringify(event).slice(0, 200)}\n`);
}

/** `onEvent` sees the volunteer's events as they happen (a test stops one mid-step with it). */
export async function enlistPipelineVolunteer(
  relay: RelayHandle,
  name: string,
  onEvent?: (event: PipelineEvent) => void,
): Promise<NodePipelineVolunteer> {
  const log = process.env.POTLUCK_TEST_LOG;
  return startNodePipelineVolunteer({
    relay: relay.url,
    name,
    stateDir: await mkdtemp(join(tmpdir(), `potluck-${name}-`)),
    ctx: await nodeContext(),
    onEvent: (event) => {
      if (log) logEvent(name, event);
      onEvent?.(event);
    },
  });
}

/** The mean train loss of the first `head` and the last `tail` committed steps. */
export async function lossEnds(
  relay: RelayHandle,
  head = 2,
  tail = 3,
): Promise<{ first: number; last: number; all: number[] }> {
  const all = (await relay.run.ledger.rounds(relay.run.id)).map((r) => r.trainLoss as number);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { first: mean(all.slice(0, head)), last: mean(all.slice(-tail)), all };
}
