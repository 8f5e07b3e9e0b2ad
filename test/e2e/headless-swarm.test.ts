// A real swarm end to end, headless: a relay on loopback and Node volunteers that train on the
// GPU (Dawn/SwiftShader), exchange compressed frames over real WebRTC data channels
// (@roamhq/wrtc, signaled through the relay's /signal), and commit rounds. The run learns
// (validation loss of the committed state falls), every volunteer holds the committed hash,
// credits are 6 x parameters x assigned tokens, and a volunteer that leaves mid-round neither
// stalls the round nor keeps a newcomer from catching up to the same state.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RelayHandle } from '../../relay/server.ts';
import { type NodeVolunteer, startNodeVolunteer } from '../../web/node/node-volunteer.ts';
import type { VolunteerEvent } from '../../web/src/peer/volunteer.ts';
import { nodeContext } from '../helpers/node-context.ts';
import { stateValidationLoss } from '../helpers/state-validation-loss.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';
import { memoryTuneCache } from '../helpers/tune-cache-memory.ts';

const MODEL = { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 1, nHead: 2 };

let relay: RelayHandle;
let dataset = '';
const volunteers: NodeVolunteer[] = [];

beforeAll(async () => {
  dataset = await smallDataset(8);
  relay = await startTestRelay(dataset, {
    overrides: {
      model: MODEL,
      guard: { validationSequences: 2 }, // real training: the relay scores steps and states
      inner: { batchSize: 4, seqLen: 32, learningRate: 1e-2, warmupRounds: 0 },
      round: { innerSteps: 8, compression: { randomK: 0.5, topK: 0.5, bits: 4, blockSize: 64 } },
      schedule: { minPeers: 2, gatherMs: 300, minRoundMs: 30_000, maxRoundMs: 30_000, hashTimeoutMs: 15_000 },
    },
  });
});

afterAll(async () => {
  await Promise.all(volunteers.map((v) => v.stop()));
  await relay?.close();
});

/** With POTLUCK_TEST_LOG set, each volunteer's round events go to stderr beside the relay's log. */
function logEvent(name: string, event: VolunteerEvent): void {
  if (event.type !== 'step' && event.type !== 'traffic')
    process.stderr.write(`${new Date().toISOString()} ${name} ${JSON.stringify(event).slice(0, 200)}\n`);
}

async function enlist(name: string): Promise<NodeVolunteer> {
  const started = await startNodeVolunteer({
    relay: relay.url,
    name,
    stateDir: await mkdtemp(join(tmpdir(), `potluck-${name}-`)),
    ctx: await nodeContext(),
    tuneCache: memoryTuneCache(),
    onEvent: process.env.POTLUCK_TEST_LOG ? (event) => logEvent(name, event) : undefined,
  });
  volunteers.push(started);
  return started;
}

function inSync(peers: readonly NodeVolunteer[]): boolean {
  const { modelHash } = relay.run.coordinator.lastCommitted;
  return peers.every((p) => p.volunteer.held.hash === modelHash);
}

async function committedRound(): Promise<number> {
  return ((await (await relay.app.request('/healthz')).json()) as { committedRound: number }).committedRound;
}

async function waitForRound(round: number, timeoutMs: number): Promise<void> {
  await expect.poll(committedRound, { timeout: timeoutMs, interval: 250 }).toBeGreaterThanOrEqual(round);
}

const validationLossOf = (stateBytes: Uint8Array) => stateValidationLoss(MODEL, stateBytes, dataset);

it('trains rounds over WebRTC: loss falls, hashes agree, credits are what was assigned', async () => {
  const initial = new Uint8Array(
    await (await relay.app.request(`/api/runs/${relay.run.id}/checkpoint`)).arrayBuffer(),
  );
  const a = await enlist('alpha');
  const b = await enlist('beta');
  await waitForRound(3, 240_000);
  // Rounds go on meanwhile: at some moment both hold exactly the state the relay committed last.
  await expect.poll(() => inSync([a, b]), { timeout: 60_000, interval: 100 }).toBe(true);

  // The designated peer uploaded the committed state; it learned against θ_0.
  await expect
    .poll(() => relay.run.checkpoints.latest()?.round ?? -1, { timeout: 30_000 })
    .toBeGreaterThanOrEqual(2);
  const latest = await (await relay.app.request(`/api/runs/${relay.run.id}/checkpoint`)).arrayBuffer();
  const before = await validationLossOf(initial);
  const after = await validationLossOf(new Uint8Array(latest));
  process.stdout.write(
    `validation loss θ_0 ${before.toFixed(4)} → round ${relay.run.checkpoints.latest()?.round}: ${after.toFixed(4)}\n`,
  );
  expect(after).toBeLessThan(before - 0.3);

  const ledger = (await (await relay.app.request('/api/ledger?after=0')).json()) as {
    entries: { peerKey: string; tokens: number; flops: string }[];
  };
  const { batchSize, seqLen } = relay.run.config.inner;
  expect(ledger.entries.length).toBeGreaterThanOrEqual(6);
  for (const entry of ledger.entries) {
    expect([a.peerId, b.peerId]).toContain(entry.peerKey);
    expect(entry.tokens % (batchSize * seqLen)).toBe(0);
    expect(BigInt(entry.flops)).toBe(6n * BigInt(relay.run.paramCount) * BigInt(entry.tokens));
  }
  // Receipts come after each commit and are verified and stored as they arrive.
  await expect
    .poll(async () => (await a.store.receipts()).length, { timeout: 60_000 })
    .toBeGreaterThanOrEqual(3);
}, 400_000);

it('goes on without a volunteer that leaves mid-round, and a newcomer catches up', async () => {
  const [a, b] = volunteers as [NodeVolunteer, NodeVolunteer];
  const start = await committedRound();
  // Leave as soon as the next round is under way.
  await expect
    .poll(() => relay.run.coordinator.roundInProgress?.round ?? -1, { timeout: 60_000 })
    .toBe(start + 1);
  await b.stop();
  const left = Date.now();
  await waitForRound(start + 1, 60_000);
  expect(Date.now() - left).toBeLessThan(
    relay.run.config.schedule.maxRoundMs + relay.run.config.schedule.hashTimeoutMs,
  );
  const c = await enlist('gamma');
  await waitForRound(start + 3, 240_000);
  await expect.poll(() => inSync([a, c]), { timeout: 60_000, interval: 100 }).toBe(true);
}, 400_000);
