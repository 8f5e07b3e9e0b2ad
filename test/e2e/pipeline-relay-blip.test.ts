// A network blip does not cost a pipeline its weights: two headless Node volunteers hold one
// stage each, so each is its stage's only replica. One drops its relay connection in the middle
// of a step and is away for about three seconds (its reconnect back-off); the step is aborted
// and rolled back everywhere. Back, it claims its stage and the step committed last in `ready`,
// the relay seats it on that stage again without a state transfer (there is no other replica to
// send one), and the run commits further steps with it.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RelayHandle } from '../../relay/server.ts';
import {
  type NodePipelineVolunteer,
  startNodePipelineVolunteer,
} from '../../web/node/node-pipeline-volunteer.ts';
import type { PipelineEvent } from '../../web/src/peer/pipeline-events.ts';
import { Backoff } from '../../web/src/peer/reconnect-backoff.ts';
import { nodeContext } from '../helpers/node-context.ts';
import { pipelineCoordinator } from '../helpers/pipeline-run.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';

/** How long the dropped volunteer stays away: its first reconnect attempt waits this long. */
const AWAY_MS = 3_000;

let relay: RelayHandle;
const volunteers: NodePipelineVolunteer[] = [];
/** Per volunteer, what it reported, in order. */
const heard = new Map<string, PipelineEvent[]>();
/** Per volunteer, a hook on its events: the test drops one's connection from inside a step. */
const hooks = new Map<string, (event: PipelineEvent) => void>();

beforeAll(async () => {
  relay = await startTestRelay(await smallDataset(4), {
    overrides: {
      model: { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 2, nHead: 2 },
      inner: { batchSize: 4, seqLen: 32 },
      pipeline: {
        stages: 2,
        microbatches: 2,
        microbatchSize: 2,
        forward: 'int8',
        backward: 'int8',
        blockSize: 128,
        warmupSteps: 0,
        stepMs: 60_000,
      },
      schedule: { minPeers: 2, gatherMs: 300 },
    },
  });
});

afterAll(async () => {
  await Promise.all(volunteers.map((v) => v.stop()));
  await relay?.close();
});

const coordinator = () => pipelineCoordinator(relay);

async function enlist(name: string): Promise<NodePipelineVolunteer> {
  const events: PipelineEvent[] = [];
  heard.set(name, events);
  const started = await startNodePipelineVolunteer({
    relay: relay.url,
    name,
    stateDir: await mkdtemp(join(tmpdir(), `potluck-${name}-`)),
    ctx: await nodeContext(),
    backoff: new Backoff({ initialMs: AWAY_MS, jitter: 0 }),
    onEvent: (event) => {
      events.push(event);
      hooks.get(name)?.(event);
      if (process.env.POTLUCK_TEST_LOG && event.type !== 'microbatch' && event.type !== 'traffic')
        process.stderr.write(`${name} ${JSON.stringify(event).slice(0, 200)}\n`);
    },
  });
  volunteers.push(started);
  return started;
}

it("a stage's only replica that drops its relay connection mid-step is seated back on its stage, and the run goes on", async () => {
  const [one, two] = [await enlist('one'), await enlist('two')];
  await expect
    .poll(() => coordinator().lastCommitted.round, { timeout: 240_000, interval: 250 })
    .toBeGreaterThanOrEqual(1);
  const seating = coordinator().stages ?? [];
  expect(seating).toEqual(expect.arrayContaining([[one.peerId], [two.peerId]]));
  const stage = seating.findIndex((ids) => ids.includes(one.peerId));

  // Drop `one`'s /swarm socket right after one of its microbatches, before the step could commit.
  const events = heard.get('one') as PipelineEvent[];
  let from = 0;
  let before = 0;
  let aborted = 0;
  const dropped = new Promise<number>((resolve) =>
    hooks.set('one', (event) => {
      if (event.type !== 'microbatch') return;
      hooks.clear();
      from = events.length;
      before = coordinator().lastCommitted.round;
      aborted = coordinator().abortedSteps;
      one.volunteer.stop('a network blip');
      resolve(Date.now());
    }),
  );
  const droppedAt = await dropped;

  await expect
    .poll(() => coordinator().lastCommitted.round, { timeout: 180_000, interval: 250 })
    .toBeGreaterThanOrEqual(before + 2);
  expect(Date.now() - droppedAt).toBeGreaterThan(AWAY_MS); // it did go away
  expect(coordinator().abortedSteps).toBeGreaterThan(aborted); // the step it left was rolled back
  expect(coordinator().stages?.[stage]).toEqual([one.peerId]); // back on its own stage
  const after = events.slice(from);
  expect(after.some((e) => e.type === 'status' && /reconnected/.test(e.text))).toBe(true);
  // Seated back as it was: no other stage opened, no weights fetched.
  expect(after.some((e) => e.type === 'stage')).toBe(false);
  expect(after.some((e) => e.type === 'status' && /fetched stage/.test(e.text))).toBe(false);
  expect(one.volunteer.committedSteps).toBeGreaterThanOrEqual(1); // the peer on the new connection
}, 480_000);
