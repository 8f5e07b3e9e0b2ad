// The round state machine on a manual clock, no sockets: deadlines fire exactly when due, and
// when the relay lacks the committed state (its designated uploader left), a synced peer is
// asked for it so late joiners do not stall; a nearly spent epoch never seats fewer peers
// than the run asks for.
import { expect, it } from 'vitest';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import { ManualClock } from '../../../relay/clock.ts';
import { silentLogger } from '../../../relay/logger.ts';
import { CATCH_UP_WAIT_MS, Coordinator, type PeerLink } from '../../../relay/rounds/coordinator.ts';
import { ShardPool } from '../../../relay/rounds/shard-pool.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';

const resolved = resolveRunConfig({
  schedule: { minPeers: 2, gatherMs: 100, minRoundMs: 5_000, maxRoundMs: 5_000, hashTimeoutMs: 2_000 },
});
if (!resolved.ok) throw new Error(resolved.message);
const config = resolved.config;
const KEY = (c: string) => `${c.repeat(43).slice(0, 42)}A`;
const H0 = '0'.repeat(64);
const H1 = '1'.repeat(64);

/** a and b each send a manifest holding the other's frame and report H1: round 0 commits. */
async function commitRound0(coordinator: Coordinator, a: string, b: string): Promise<void> {
  const frameOf = (id: string) => id.slice(0, 1).repeat(64);
  for (const [id, other] of [
    [a, b],
    [b, a],
  ] as const)
    coordinator.manifest(id, {
      round: 0,
      frameHash: frameOf(id),
      holds: [{ peer: other, frameHash: frameOf(other) }],
      trainLoss: 3,
    });
  for (const id of [a, b]) coordinator.modelHash(id, 0, H1);
  await new Promise((r) => setTimeout(r, 0)); // the commit's promise
}

const assignedRound = (m: RelayMessage | undefined) => (m?.type === 'assignment' ? m.round : undefined);

function setup(stored: Set<string>, pool = new ShardPool(1_000_000)) {
  const clock = new ManualClock();
  const inbox = new Map<string, RelayMessage[]>();
  const coordinator = new Coordinator({
    config,
    configHash: 'c'.repeat(64),
    paramCount: 1000,
    frameBytes: 100,
    committed: { round: -1, modelHash: H0 },
    pool,
    commit: async () => ({ head: null, receipts: new Map() }),
    clock,
    log: silentLogger,
    needsCheckpoint: (hash) => !stored.has(hash),
  });
  const join = (id: string) => {
    inbox.set(id, []);
    const link: PeerLink = { id, name: id, send: (m) => inbox.get(id)?.push(m) };
    coordinator.join(link);
  };
  const last = (id: string, type: RelayMessage['type']) =>
    inbox
      .get(id)
      ?.filter((m) => m.type === type)
      .at(-1);
  return { clock, coordinator, join, last, inbox };
}

it('decides at the deadline without the silent member, then asks a synced peer for the state', async () => {
  const stored = new Set([H0]);
  const { clock, coordinator, join, last, inbox } = setup(stored);
  const [a, b, c] = [KEY('a'), KEY('b'), KEY('c')];
  join(a);
  join(b);
  coordinator.ready(a, -1, H0);
  coordinator.ready(b, -1, H0);
  clock.advance(100);
  const assignment = last(a, 'assignment');
  if (assignment?.type !== 'assignment') throw new Error('no round opened');
  expect(last(b, 'assignment')).toBeDefined();
  coordinator.manifest(a, { round: 0, frameHash: 'f'.repeat(64), holds: [], trainLoss: 3 });
  clock.advance(4_999);
  expect(last(a, 'decision')).toBeUndefined(); // b still has 1 ms
  clock.advance(1);
  const decision = last(a, 'decision');
  expect(decision?.type === 'decision' && decision.counted.map((x) => x.peer)).toEqual([a]);
  coordinator.modelHash(a, 0, H1);
  await new Promise((r) => setTimeout(r, 0)); // the commit's promise
  expect(coordinator.lastCommitted).toEqual({ round: 0, modelHash: H1 });
  const commit = last(a, 'commit');
  expect(commit?.type === 'commit' && commit.uploadCheckpoint).toBe(true);

  // a leaves before uploading; c joins and must resync, and the relay lacks H1: the next
  // synced peer that says ready is asked to upload it, once per 10 s.
  coordinator.leave(a);
  join(c);
  coordinator.ready(c, -1, H0);
  expect(last(c, 'resync')).toEqual({ type: 'resync', round: 0, modelHash: H1 });
  coordinator.ready(b, 0, H1);
  expect(last(b, 'upload-request')).toEqual({ type: 'upload-request', round: 0, modelHash: H1 });
  coordinator.ready(b, 0, H1);
  expect(inbox.get(b)?.filter((m) => m.type === 'upload-request')).toHaveLength(1);
  stored.add(H1);
  clock.advance(20_000);
  coordinator.ready(c, 0, H1);
  expect(last(c, 'upload-request')).toBeUndefined(); // the relay has it now
});

it('a peer that said ready during a round resyncs when it commits, and is not assigned on stale state', async () => {
  const { clock, coordinator, join, last, inbox } = setup(new Set([H0]));
  const [a, b, c] = [KEY('a'), KEY('b'), KEY('c')];
  for (const id of [a, b]) {
    join(id);
    coordinator.ready(id, -1, H0);
  }
  clock.advance(100);
  // c joins while round 0 runs, holding θ_0, which is still the committed state: it waits.
  join(c);
  coordinator.ready(c, -1, H0);
  expect(last(c, 'wait')).toBeDefined();
  await commitRound0(coordinator, a, b);
  expect(coordinator.lastCommitted).toEqual({ round: 0, modelHash: H1 });
  // Round 0 moved the model past what c holds: c is told to catch up. Round 1 waits for it up
  // to CATCH_UP_WAIT_MS, then opens with the two synced peers only.
  expect(last(c, 'resync')).toEqual({ type: 'resync', round: 0, modelHash: H1 });
  for (const id of [a, b]) coordinator.ready(id, 0, H1);
  clock.advance(100);
  expect(assignedRound(last(a, 'assignment'))).toBe(0);
  clock.advance(CATCH_UP_WAIT_MS);
  const round1 = last(a, 'assignment');
  expect(round1?.type === 'assignment' && round1.group.map((m) => m.peer).sort()).toEqual([a, b].sort());
  expect(inbox.get(c)?.some((m) => m.type === 'assignment')).toBe(false);
  // Once c holds the committed state it takes part again.
  coordinator.ready(c, 0, H1);
  expect(last(c, 'wait')).toMatchObject({ reason: 'round 1 is in progress' });
});

it('rolls a nearly spent epoch over rather than opening a round with one of two ready peers', () => {
  const { batchSize, seqLen } = config.inner;
  const window = batchSize * seqLen + 1;
  const pool = new ShardPool(1_000_000);
  pool.take(1_000_000 - Math.floor(1.5 * window), window, 0); // one window is left, not two
  const { clock, coordinator, join, last } = setup(new Set([H0]), pool);
  const [a, b] = [KEY('a'), KEY('b')];
  for (const id of [a, b]) {
    join(id);
    coordinator.ready(id, -1, H0);
  }
  clock.advance(100);
  const assignment = last(a, 'assignment');
  expect(assignment?.type === 'assignment' && assignment.group.map((m) => m.peer).sort()).toEqual(
    [a, b].sort(),
  );
  expect(last(b, 'assignment')).toBeDefined();
  expect(last(b, 'wait')).toBeUndefined();
  expect(pool.epoch).toBe(1);
});

it('waits for a peer that is fetching the committed state, so fast rounds do not leave it behind', async () => {
  const { clock, coordinator, join, last } = setup(new Set([H0]));
  const [a, b, c] = [KEY('a'), KEY('b'), KEY('c')];
  for (const id of [a, b]) {
    join(id);
    coordinator.ready(id, -1, H0);
  }
  clock.advance(100);
  join(c);
  coordinator.ready(c, -1, H0); // during round 0: waits
  await commitRound0(coordinator, a, b);
  expect(last(c, 'resync')).toMatchObject({ round: 0, modelHash: H1 });
  // a and b are back at once; c needs 3 s to download the state. The round waits for it.
  for (const id of [a, b]) coordinator.ready(id, 0, H1);
  clock.advance(3_000);
  expect(assignedRound(last(a, 'assignment'))).toBe(0);
  coordinator.ready(c, 0, H1);
  clock.advance(250);
  const round1 = last(c, 'assignment');
  expect(assignedRound(round1)).toBe(1);
  expect(round1?.type === 'assignment' && round1.group.map((m) => m.peer).sort()).toEqual([a, b, c].sort());
});
