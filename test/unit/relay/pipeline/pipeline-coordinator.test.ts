// The relay's pipeline steps on a manual clock, no sockets: volunteers are seated once enough
// are ready, each microbatch is routed through one replica per stage, every stage's gradient
// norm goes to every peer once each replica sent its stage's and they agree, a step commits only
// when every replica reported and each stage's replicas agree, credits are the stage FLOPs of what
// was routed, and a replica that leaves (or a deadline) aborts the step, which re-opens at once
// over the volunteers left with the lost one's microbatches on its stage's other replica.
import { expect, it } from 'vitest';
import { stageFlopsPerToken } from '../../../../protocol/model-flops.ts';
import { splitLayers } from '../../../../protocol/stage-layout.ts';
import {
  A,
  B,
  C,
  committed,
  config,
  HASH,
  KEY,
  type StageAssignment,
  settle,
  setup,
} from '../../../helpers/pipeline-coordinator-harness.ts';

it('seats three volunteers on two stages, routes every microbatch, and commits with per-stage credits', async () => {
  const { clock, coordinator, last, commits, reportAll } = setup();
  coordinator.ready(A, -1, null);
  coordinator.ready(B, -1, null);
  clock.advance(1_000);
  expect(last(A, 'stage-assignment')).toBeUndefined(); // minPeers 3: not yet
  coordinator.ready(C, -1, null);
  clock.advance(99);
  expect(last(A, 'stage-assignment')).toBeUndefined(); // gatherMs
  clock.advance(1);
  const a = last(A, 'stage-assignment');
  if (!a) throw new Error('no step opened');
  expect(a.stages.map((ids) => ids.length).sort()).toEqual([1, 2]);
  expect(a.routes).toHaveLength(4);
  // Each stage's replicas split the microbatches evenly; every route names a replica of each stage.
  for (const [s, ids] of a.stages.entries()) {
    const counts = ids.map((_, r) => a.routes.filter((route) => route[s] === r).length);
    expect(counts.reduce((x, y) => x + y, 0)).toBe(4);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    expect([...ids].sort()).toEqual(ids);
  }
  expect(a.shard.end - a.shard.start).toBe(4 * 2 * 16 + 1);
  for (const id of [B, C])
    expect(last(id, 'stage-assignment')).toMatchObject({ step: 0, attempt: a.attempt });

  // A report for another step, from a stranger or for the wrong stage, changes nothing.
  const s1 = a.stages[1]?.[0] as string;
  coordinator.stageReport(s1, { step: 5, stage: 1, paramsHash: HASH('9'), lossSum: 1 });
  coordinator.stageReport(s1, { step: 0, stage: 0, paramsHash: HASH('9'), lossSum: 1 });
  reportAll(a);
  await committed(coordinator, 0);
  expect(coordinator.lastCommitted.round).toBe(0);
  const record = commits[0];
  if (!record) throw new Error('no commit');
  expect(record.trainLoss).toBe(2 / 4); // the last stage's loss sum over the step's microbatches
  const split = splitLayers(4, 2);
  for (const [s, ids] of a.stages.entries()) {
    const perToken = BigInt(
      stageFlopsPerToken(config.model, { layers: split[s] as never, isLast: s === 1 }, 16).training,
    );
    for (const [r, id] of ids.entries()) {
      const tokens = a.routes.filter((route) => route[s] === r).length * 2 * 16;
      expect(record.credits.find((c) => c.peerKey === id)).toMatchObject({
        tokens,
        flops: BigInt(tokens) * perToken,
      });
    }
  }
  for (const id of [A, B, C]) {
    expect(last(id, 'stage-commit')).toMatchObject({ step: 0, modelHash: record.modelHash });
    expect(last(id, 'receipt')).toEqual({ type: 'receipt', receipt: { for: id } });
  }
  // The next step opens at once, with a new attempt id.
  const next = last(A, 'stage-assignment');
  expect(next).toMatchObject({ step: 1 });
  expect(next?.attempt).not.toBe(a.attempt);
});

it('a replica that leaves mid-step aborts it; the step re-opens on the rest with its microbatches re-routed', async () => {
  const { clock, coordinator, last, commits, pool, reportAll } = setup();
  for (const id of [A, B, C]) coordinator.ready(id, -1, null);
  clock.advance(100);
  const a = last(A, 'stage-assignment') as StageAssignment;
  const replicated = a.stages.findIndex((ids) => ids.length === 2);
  const gone = a.stages[replicated]?.[1] as string;
  const stays = a.stages[replicated]?.[0] as string;
  const free = pool.freeTokens;
  coordinator.leave(gone);
  for (const id of [A, B, C].filter((x) => x !== gone))
    expect(last(id, 'stage-abort')).toMatchObject({ step: 0, reason: 'a stage replica left' });
  const again = last(stays, 'stage-assignment') as StageAssignment;
  expect(again).toMatchObject({ step: 0 });
  expect(again.attempt).not.toBe(a.attempt);
  expect(again.stages[replicated]).toEqual([stays]);
  expect(again.routes.every((route) => route[replicated] === 0)).toBe(true); // all of it on the survivor
  expect(pool.freeTokens).toBe(free); // the aborted shard went back, the new one was taken
  expect(coordinator.stages?.flat()).not.toContain(gone);
  reportAll(again);
  await committed(coordinator, 0);
  expect(commits.map((c) => c.credits.length)).toEqual([2]);
  expect(coordinator.abortedSteps).toBe(1);
});

it('aborts a step whose replicas disagree or that passes its deadline, and never commits it', async () => {
  const { clock, coordinator, last, latest, commits, normAll, reportAll } = setup();
  for (const id of [A, B, C]) coordinator.ready(id, -1, null);
  clock.advance(100);
  const a = last(A, 'stage-assignment') as StageAssignment;
  const replicated = a.stages.findIndex((ids) => ids.length === 2);
  normAll(a);
  // One replica of the replicated stage holds other weights.
  for (const [s, ids] of a.stages.entries())
    for (const [r, id] of ids.entries())
      coordinator.stageReport(id, {
        step: 0,
        stage: s,
        paramsHash: s === replicated && r === 1 ? HASH('e') : HASH(String(s + 1)),
        lossSum: s === 1 ? 2 : null,
      });
  await settle();
  expect(commits).toHaveLength(0);
  expect(last(A, 'stage-abort')?.reason).toMatch(/hold different weights/);
  expect(coordinator.disagreements).toBe(1);
  // The stage that disagreed runs on one of its replicas now.
  const b = latest();
  expect(b.attempt).not.toBe(a.attempt);
  expect(b.stages.map((ids) => ids.length)).toEqual([1, 1]);
  // Nobody reports: the deadline aborts it and opens it again.
  clock.advance(10_000);
  expect(last(b.stages[0]?.[0] as string, 'stage-abort')?.reason).toBe('the step passed its deadline');
  const c = latest();
  expect(c.attempt).not.toBe(b.attempt);
  reportAll(c);
  await committed(coordinator, 0);
  expect(commits.map((x) => x.round)).toEqual([0]);
  expect(coordinator.abortedSteps).toBe(2);
});

it("shares every stage's gradient norm once each replica sent its stage's, and counts no report before", async () => {
  const { clock, coordinator, last, latest, commits, normAll, reportAll } = setup();
  for (const id of [A, B, C]) coordinator.ready(id, -1, null);
  clock.advance(100);
  const a = last(A, 'stage-assignment') as StageAssignment;
  const [r0, r1] = a.stages.map((ids) => ids[0] as string) as [string, string];
  const all = a.stages.flat();
  const norm = (id: string, stage: number, sumOfSquares: number, attempt = a.attempt) =>
    coordinator.stageNorm(id, { step: 0, attempt, stage, sumOfSquares });
  // A report before the norms were shared: no honest replica has stepped yet, so it is not counted.
  for (const [s, ids] of a.stages.entries())
    for (const id of ids)
      coordinator.stageReport(id, { step: 0, stage: s, paramsHash: HASH(String(s + 1)), lossSum: 2 });
  // A norm from another attempt is stale; one naming a stage the sender is not a replica of is refused.
  norm(r0, 0, 1, a.attempt + 7);
  norm(r0, 1, 0);
  for (const id of all.filter((id) => id !== r1)) norm(id, a.stages[0]?.includes(id) ? 0 : 1, 4);
  expect(all.map((id) => last(id, 'stage-norms'))).toEqual(all.map(() => undefined));
  norm(r1, 1, 2.25);
  for (const id of all)
    expect(last(id, 'stage-norms')).toEqual({
      type: 'stage-norms',
      step: 0,
      attempt: a.attempt,
      sumsOfSquares: [4, 2.25],
    });
  await settle();
  expect(commits).toHaveLength(0); // the early reports did not count
  reportAll(a); // its norms now come too late to change anything, and are dropped
  await committed(coordinator, 0);
  // Next step: the replicated stage's replicas send different norms, and the step is aborted.
  const b = last(A, 'stage-assignment') as StageAssignment;
  const replicated = b.stages.findIndex((ids) => ids.length === 2);
  const twin = b.stages[replicated]?.[1] as string;
  for (const [s, ids] of b.stages.entries())
    for (const id of ids)
      coordinator.stageNorm(id, { step: 1, attempt: b.attempt, stage: s, sumOfSquares: id === twin ? 0 : 3 });
  expect(last(A, 'stage-abort')).toMatchObject({
    step: 1,
    reason: `the replicas of stage ${replicated} sent different gradient norms`,
  });
  expect(coordinator.disagreements).toBe(1);
  const c = latest();
  expect(c.attempt).not.toBe(b.attempt);
  expect(c.stages[replicated]).toHaveLength(1); // narrowed to one replica of the stage
  normAll(c);
  const member = c.stages[0]?.[0] as string;
  expect(last(member, 'stage-norms')).toMatchObject({ step: 1, attempt: c.attempt, sumsOfSquares: [1, 2] });
});

it('seats a latecomer on the thinnest stage, which sends it its state, and stalls when a stage has no holder', async () => {
  const { clock, coordinator, inbox, last, commits, reportAll } = setup();
  for (const id of [A, B, C]) coordinator.ready(id, -1, null);
  clock.advance(100);
  const a = last(A, 'stage-assignment') as StageAssignment;
  expect(a.stateFrom).toBeNull();
  expect(a.stateTo).toEqual([]);
  const thin = a.stages.findIndex((ids) => ids.length === 1);
  const lone = a.stages[thin]?.[0] as string;
  const D = KEY('d');
  inbox.set(D, []);
  coordinator.join({ id: D, name: 'd', send: (m) => inbox.get(D)?.push(m) });
  coordinator.ready(D, -1, null);
  expect(last(D, 'wait')?.reason).toMatch(/next step/);
  reportAll(a);
  await committed(coordinator, 0);
  // Step 1: D is a replica of the thin stage and fetches its state from the one that holds it.
  const d = last(D, 'stage-assignment') as StageAssignment;
  expect(d).toMatchObject({ step: 1, stage: thin, stateFrom: lone, stateTo: [] });
  expect(last(lone, 'stage-assignment')?.stateTo).toEqual([D]);
  expect([...(d.stages[thin] ?? [])].sort()).toEqual([lone, D].sort());
  reportAll(d);
  await committed(coordinator, 1);
  expect(commits.map((c) => c.round)).toEqual([0, 1]);
  // Holding the state now, D needs no transfer at step 2.
  expect(last(D, 'stage-assignment')).toMatchObject({ step: 2, stateFrom: null });
  // Every holder of the other stage leaves: its weights are gone, and nothing opens.
  const other = a.stages[1 - thin] ?? [];
  for (const id of other) coordinator.leave(id);
  expect(coordinator.roundInProgress).toBeNull();
});

it('seats round robin in arrival order on the even split, whatever the volunteers claim of themselves', async () => {
  const { clock, coordinator, last } = setup();
  // C claims a huge GPU and A a tiny one: a claim the relay has not measured buys no seat.
  const claim = (memoryBytes: number, tokensPerSec: number) => ({
    tokensPerSec,
    uplinkBytesPerSec: 1e9,
    downlinkBytesPerSec: 1e9,
    memoryBytes,
  });
  coordinator.capabilities(C, claim(2 ** 40, 1e9));
  coordinator.capabilities(A, claim(1, 1));
  for (const id of [A, B, C]) coordinator.ready(id, -1, null);
  clock.advance(100);
  const split = splitLayers(4, 2);
  for (const id of [A, B, C]) {
    const a = last(id, 'stage-assignment');
    expect(a?.stages).toEqual([[A, C].sort(), [B]]);
    expect(a?.layers).toEqual(split[a?.stage ?? -1]);
  }
});
