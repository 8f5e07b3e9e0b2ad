// A model cut into three stages over three Node volunteers, activations and their gradients
// both at int4 on the wire: the middle stage takes frames from both sides, the first and last
// exchange the tied embedding, every step commits with each stage's weights agreed, and the
// loss goes down.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RelayHandle } from '../../relay/server.ts';
import type { NodePipelineVolunteer } from '../../web/node/node-pipeline-volunteer.ts';
import { enlistPipelineVolunteer, lossEnds, pipelineCoordinator } from '../helpers/pipeline-run.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';

let relay: RelayHandle;
const volunteers: NodePipelineVolunteer[] = [];

beforeAll(async () => {
  relay = await startTestRelay(await smallDataset(8), {
    overrides: {
      model: { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 3, nHead: 2 },
      inner: { batchSize: 8, seqLen: 32 },
      pipeline: {
        stages: 3,
        microbatches: 4,
        microbatchSize: 2,
        forward: 'int4',
        backward: 'int4',
        blockSize: 64,
        learningRate: 1e-2, // the tiny model's loss must fall within ten steps
        warmupSteps: 0,
      },
      schedule: { minPeers: 3, gatherMs: 300 },
    },
  });
});

afterAll(async () => {
  await Promise.all(volunteers.map((v) => v.stop()));
  await relay?.close();
});

it('trains over three stages with int4 frames both ways', async () => {
  for (const name of ['one', 'two', 'three']) volunteers.push(await enlistPipelineVolunteer(relay, name));
  const coordinator = pipelineCoordinator(relay);
  await expect
    .poll(() => coordinator.lastCommitted.round, { timeout: 300_000, interval: 250 })
    .toBeGreaterThanOrEqual(9);
  expect(coordinator.stages?.map((ids) => ids.length)).toEqual([1, 1, 1]);
  expect(coordinator.abortedSteps).toBe(0);
  const losses = await lossEnds(relay);
  process.stdout.write(
    `three stages, int4: train loss by step ${losses.all.map((l) => l.toFixed(3)).join(' ')}\n`,
  );
  expect(losses.last).toBeLessThan(losses.first - 1);
}, 360_000);
