// A model cut into three stages over three Node volunteers, in the default pipeline codecs
// below 4 bits: AQ-SGD deltas of 4 bits up (a training split two steps long, so every sample
// comes back every other step and crosses as a delta against the base both ends kept),
// gradients at 3 bits rounded stochastically down with each peer's own noise. The middle stage
// takes frames from both sides and sends deltas itself, the first and last exchange the tied
// embedding, every step commits with each stage's weights agreed, and the loss goes down.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RelayHandle } from '../../relay/server.ts';
import type { NodePipelineVolunteer } from '../../web/node/node-pipeline-volunteer.ts';
import { enlistPipelineVolunteer, lossEnds, pipelineCoordinator } from '../helpers/pipeline-run.ts';
import { shortDataset, startTestRelay } from '../helpers/test-relay.ts';

let relay: RelayHandle;
const volunteers: NodePipelineVolunteer[] = [];

beforeAll(async () => {
  relay = await startTestRelay(await shortDataset(900), {
    overrides: {
      model: { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 3, nHead: 2 },
      inner: { batchSize: 8, seqLen: 32 },
      pipeline: {
        stages: 3,
        microbatches: 4,
        microbatchSize: 2,
        forward: 'delta-int4',
        backward: 'int3-sr',
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

it('trains over three stages with 4-bit deltas up and 3-bit stochastic gradients down', async () => {
  // What each volunteer sent up, by codec: the first two stages send activations.
  const sent = new Map<string, Map<string, number>>();
  for (const name of ['one', 'two', 'three']) {
    const counts = new Map<string, number>();
    sent.set(name, counts);
    const volunteer = await enlistPipelineVolunteer(relay, name, (event) => {
      if (event.type === 'microbatch' && event.sent)
        counts.set(event.sent, (counts.get(event.sent) ?? 0) + 1);
    });
    volunteers.push(volunteer);
  }
  const coordinator = pipelineCoordinator(relay);
  await expect
    .poll(() => coordinator.lastCommitted.round, { timeout: 300_000, interval: 250 })
    .toBeGreaterThanOrEqual(9);
  expect(coordinator.stages?.map((ids) => ids.length)).toEqual([1, 1, 1]);
  expect(coordinator.abortedSteps).toBe(0);
  const losses = await lossEnds(relay);
  const counts = [...sent].map(([name, c]) => `${name} ${JSON.stringify(Object.fromEntries(c))}`);
  process.stdout.write(
    `three stages, delta-int4/int3-sr: train loss by step ${losses.all.map((l) => l.toFixed(3)).join(' ')}; sent up: ${counts.join(', ')}\n`,
  );
  // Two volunteers send activations (stages 0 and 1); after its first crossing each sample goes
  // as a delta, and nothing goes in a codec the run does not name.
  const senders = [...sent.values()].filter((c) => c.size > 0);
  expect(senders).toHaveLength(2);
  for (const c of senders) {
    expect([...c.keys()].sort()).toEqual(['delta-int4', 'int4']);
    expect(c.get('delta-int4') ?? 0).toBeGreaterThan(c.get('int4') ?? 0);
  }
  expect(losses.last).toBeLessThan(losses.first - 1);
}, 360_000);
