// Pipeline parallelism end to end, headless: a relay on loopback seats three Node volunteers on
// two stages (one stage gets a replica), and microbatches flow stage to stage over real WebRTC
// data channels as int8 activation frames, with the gradients coming back the same way. The
// loss goes down over the committed steps, credits are each stage's FLOPs for the tokens routed
// through it, and when the replica is stopped mid-step the step is re-run on the volunteers left
// and training goes on; a volunteer that comes later fetches the stage's weights from a replica
// and steps with it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stageFlopsPerToken } from '../../protocol/model-flops.ts';
import { splitLayers } from '../../protocol/stage-layout.ts';
import type { RelayHandle } from '../../relay/server.ts';
import type { NodePipelineVolunteer } from '../../web/node/node-pipeline-volunteer.ts';
import type { PipelineEvent } from '../../web/src/peer/pipeline-events.ts';
import { enlistPipelineVolunteer, lossEnds, pipelineCoordinator } from '../helpers/pipeline-run.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';

const MODEL = { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 2, nHead: 2 };
const PIPELINE = {
  stages: 2,
  microbatches: 4,
  microbatchSize: 2,
  forward: 'int8',
  backward: 'int8',
  blockSize: 128,
  learningRate: 1e-2, // the tiny model's loss must fall within a dozen steps
  warmupSteps: 0,
  stepMs: 60_000,
};

let relay: RelayHandle;
const volunteers: NodePipelineVolunteer[] = [];

beforeAll(async () => {
  relay = await startTestRelay(await smallDataset(8), {
    overrides: {
      model: MODEL,
      inner: { batchSize: 8, seqLen: 32 },
      pipeline: PIPELINE,
      schedule: { minPeers: 3, gatherMs: 300 },
    },
  });
});

afterAll(async () => {
  await Promise.all(volunteers.map((v) => v.stop()));
  await relay?.close();
});

const coordinator = () => pipelineCoordinator(relay);

/** Per volunteer, a hook on its events: the second test stops one from inside a step. */
const hooks = new Map<string, (event: PipelineEvent) => void>();

async function enlist(name: string): Promise<NodePipelineVolunteer> {
  const started = await enlistPipelineVolunteer(relay, name, (event) => hooks.get(name)?.(event));
  volunteers.push(started);
  return started;
}

async function waitForStep(step: number, timeoutMs: number): Promise<void> {
  await expect
    .poll(() => coordinator().lastCommitted.round, { timeout: timeoutMs, interval: 250 })
    .toBeGreaterThanOrEqual(step);
}

it('trains a model split over two stages and a replica: loss falls, credits are per stage', async () => {
  for (const name of ['alpha', 'beta', 'gamma']) await enlist(name);
  await waitForStep(11, 300_000);
  const seating = coordinator().stages ?? [];
  expect(seating.map((ids) => ids.length).sort()).toEqual([1, 2]);

  const rounds = await relay.run.ledger.rounds(relay.run.id);
  const losses = await lossEnds(relay);
  process.stdout.write(`pipeline train loss by step: ${losses.all.map((l) => l.toFixed(3)).join(' ')}\n`);
  // θ_0 predicts uniformly: ln 256 = 5.55. Twelve steps of AdamW at 1e-2 learn the byte frequencies.
  expect(losses.first).toBeGreaterThan(5);
  expect(losses.last).toBeLessThan(losses.first - 1);

  // Credits: the stage's training FLOPs for the tokens of the microbatches routed through it.
  const ledger = (await (await relay.app.request('/api/ledger?after=0')).json()) as {
    entries: { peerKey: string; round: number; tokens: number; flops: string }[];
  };
  const split = splitLayers(MODEL.nLayer, PIPELINE.stages);
  const perToken = split.map((layers, s) =>
    BigInt(stageFlopsPerToken(MODEL, { layers, isLast: s === split.length - 1 }, 32).training),
  );
  const stageOf = (key: string) => seating.findIndex((ids) => ids.includes(key));
  const tokensPerStep = PIPELINE.microbatches * PIPELINE.microbatchSize * 32;
  for (const step of rounds.map((r) => r.round)) {
    const entries = ledger.entries.filter((e) => e.round === step);
    for (const [s, ids] of seating.entries()) {
      const ofStage = entries.filter((e) => stageOf(e.peerKey) === s);
      // Every microbatch crossed every stage once: a stage's tokens add up to the step's.
      expect(ofStage.reduce((n, e) => n + e.tokens, 0)).toBe(tokensPerStep);
      for (const e of ofStage) expect(BigInt(e.flops)).toBe(BigInt(e.tokens) * (perToken[s] as bigint));
      expect(ofStage.length).toBe(ids.length);
    }
  }
  const receipts = await volunteers[0]?.store.receipts();
  expect(receipts?.length).toBeGreaterThanOrEqual(10);
}, 420_000);

it('stopping a stage replica mid-step re-runs the step on the volunteers left; a newcomer takes its place', async () => {
  const seating = coordinator().stages ?? [];
  const replicated = seating.find((ids) => ids.length === 2) ?? [];
  const victimIndex = volunteers.findIndex((v) => v.peerId === replicated[1]);
  const victim = volunteers[victimIndex];
  if (!victim) throw new Error('no replica to stop');
  const start = coordinator().lastCommitted.round;
  // Stop it from inside a step: right after one of its microbatches, before it could report.
  const stopped = new Promise<void>((resolve) =>
    hooks.set(['alpha', 'beta', 'gamma'][victimIndex] as string, (event) => {
      if (event.type !== 'microbatch') return;
      hooks.clear();
      void victim.stop().then(resolve);
    }),
  );
  await stopped;
  await waitForStep(start + 3, 240_000);
  expect(coordinator().stages?.flat()).not.toContain(victim.peerId);
  expect(coordinator().abortedSteps).toBeGreaterThanOrEqual(1); // it went mid-step: the step re-ran

  // A newcomer is seated on the stage that lost its replica and fetches its weights from the
  // replica left; a step commits only when both hold the same weights after it.
  const delta = await enlist('delta');
  await expect
    .poll(() => coordinator().stages?.findIndex((ids) => ids.includes(delta.peerId)), { timeout: 60_000 })
    .toBe(seating.indexOf(replicated));
  await expect.poll(() => delta.volunteer.committedSteps, { timeout: 120_000 }).toBeGreaterThanOrEqual(2);
  const rounds = await relay.run.ledger.rounds(relay.run.id);
  expect(rounds.at(-1)?.trainLoss).toBeLessThan(rounds[0]?.trainLoss ?? 0);
}, 300_000);
