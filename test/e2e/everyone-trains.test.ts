// Everyone who shows up trains, end to end over real WebRTC: six headless volunteers with a
// group cap of three are all seated in one round (two groups), gather the round's aggregate in
// pieces within their groups, and end with the relay's hash; then a late joiner catches up with
// the relay's checkpoint and state-piece routes refused, from the pieces two or more peers send.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CommitRecord } from '../../relay/rounds/coordinator.ts';
import type { RelayHandle } from '../../relay/server.ts';
import { type NodeVolunteer, startNodeVolunteer } from '../../web/node/node-volunteer.ts';
import type { VolunteerEvent } from '../../web/src/peer/volunteer.ts';
import { nodeContext } from '../helpers/node-context.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';
import { memoryTuneCache } from '../helpers/tune-cache-memory.ts';

const MODEL = { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 1, nHead: 2 };

let relay: RelayHandle;
const volunteers: NodeVolunteer[] = [];
const records: CommitRecord[] = [];
const statuses = new Map<string, string[]>();
/** Each volunteer's last traffic report: its links and their set-up time. */
const traffic = new Map<string, Extract<VolunteerEvent, { type: 'traffic' }>>();
/** The size of the group each volunteer was seated in, per round. */
const groupSizes = new Map<string, Map<number, number>>();
const realFetch = globalThis.fetch;

beforeAll(async () => {
  const dataset = await smallDataset(8);
  relay = await startTestRelay(dataset, {
    overrides: {
      model: MODEL,
      inner: { batchSize: 2, seqLen: 32, learningRate: 1e-2, warmupRounds: 0 },
      round: { innerSteps: 2 },
      schedule: {
        minPeers: 6,
        maxGroupSize: 3,
        gatherMs: 500,
        minRoundMs: 60_000,
        maxRoundMs: 60_000,
        hashTimeoutMs: 15_000,
      },
    },
    onCommitted: (record) => records.push(record),
  });
});

afterAll(async () => {
  globalThis.fetch = realFetch;
  await Promise.all(volunteers.map((v) => v.stop()));
  await relay?.close();
});

async function enlist(name: string): Promise<NodeVolunteer> {
  statuses.set(name, []);
  const started = await startNodeVolunteer({
    relay: relay.url,
    name,
    stateDir: await mkdtemp(join(tmpdir(), `potluck-${name}-`)),
    ctx: await nodeContext(),
    tuneCache: memoryTuneCache(),
    onEvent: (event: VolunteerEvent) => {
      if (event.type === 'status') statuses.get(name)?.push(event.text);
      if (event.type === 'traffic') traffic.set(name, event);
      if (event.type === 'round' && event.phase === 'training') {
        const sizes = groupSizes.get(name) ?? new Map<number, number>();
        groupSizes.set(name, sizes.set(event.round, event.peers));
      }
    },
  });
  volunteers.push(started);
  return started;
}

it('seats six volunteers in two groups of three in one round, and a joiner catches up from peers alone', async () => {
  const six = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((name) => enlist(`v-${name}`)));
  await expect.poll(() => records.length, { timeout: 240_000, interval: 250 }).toBeGreaterThanOrEqual(1);
  const first = records[0] as CommitRecord;
  expect(first.credits.map((c) => c.peerKey).sort()).toEqual(six.map((v) => v.peerId).sort());
  for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) {
    expect(groupSizes.get(`v-${name}`)?.get(first.round)).toBe(3);
    // Links to its group only (the other two members); none through TURN on one machine.
    expect(traffic.get(`v-${name}`)?.links).toBeLessThanOrEqual(2);
    expect(traffic.get(`v-${name}`)?.relayedLinks).toBe(0);
  }
  const setups = [...traffic.values()].map((t) => t.linkSetupMs).filter((ms) => ms !== null);
  expect(setups.length).toBeGreaterThan(0);
  console.log(`link set-up, median per volunteer: ${setups.map((ms) => `${ms} ms`).join(', ')}`);
  await expect
    .poll(() => six.every((v) => v.volunteer.held.hash === first.modelHash), {
      timeout: 60_000,
      interval: 100,
    })
    .toBe(true);

  // From here on the relay gives no state: neither its checkpoint nor a piece of it.
  let refused = 0;
  globalThis.fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url.endsWith('/checkpoint') || url.includes('/state/')) {
      refused++;
      return new Response('refused by the test', { status: 503 });
    }
    return realFetch(input, init);
  };
  const committed = relay.run.coordinator.lastCommitted;
  const joiner = await enlist('late');
  await expect
    .poll(() => joiner.volunteer.held.round >= committed.round, { timeout: 120_000, interval: 100 })
    .toBe(true);
  const fetched = (statuses.get('late') ?? []).find((text) =>
    text.startsWith('fetched the committed weights'),
  );
  expect(fetched, (statuses.get('late') ?? []).join('\n')).toBeDefined();
  const sources = [...(fetched as string).matchAll(/(\d+) from ([^,;]+)/g)].map((m) => m[2]);
  expect(sources.length).toBeGreaterThanOrEqual(2);
  expect(sources).not.toContain('the relay');
  expect(refused).toBe(0); // nothing was even asked of the relay
  console.log(`the joiner: ${fetched}`);
}, 400_000);
