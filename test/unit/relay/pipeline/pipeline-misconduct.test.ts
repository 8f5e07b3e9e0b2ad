// The relay's pipeline steps against replicas that misbehave, each as the outside attack on the
// pipeline found them: a silent replica, a norm no gradient could have, a lie about the loss,
// and a sole replica's blip. A step that fails opens again narrowed to one replica of each
// suspect stage, and the replicas left out of the commit that failed sit out a cool-down that
// doubles; a replica that comes back holding the last commit's weights takes its stage again.
import { expect, it } from 'vitest';
import { NORM_HISTORY_MIN } from '../../../../relay/pipeline/norm-bound.ts';
import {
  A,
  B,
  C,
  committed,
  HASH,
  KEY,
  type StageAssignment,
  settle,
  setup,
} from '../../../helpers/pipeline-coordinator-harness.ts';

/** Seats A, B and C (stage 0: A and C; stage 1: B) and commits steps 0 to `through`. */
async function seatedAndCommitted(h: ReturnType<typeof setup>, through: number) {
  for (const id of [A, B, C]) h.coordinator.ready(id, -1, null);
  h.clock.advance(100);
  for (let step = 0; step <= through; step++) {
    h.reportAll(h.latest());
    await committed(h.coordinator, step);
  }
}

const waitUntil = (h: ReturnType<typeof setup>, id: string) =>
  Number(/until step (\d+)/.exec(h.last(id, 'wait')?.reason ?? '')?.[1] ?? Number.NaN);

it('a silent newcomer stalls one attempt per comeback, and sits out twice as long each time', async () => {
  const h = setup(() => 0.5);
  await seatedAndCommitted(h, 0);
  const D = KEY('d');
  h.inbox.set(D, []);
  h.coordinator.join({ id: D, name: 'd', send: (m) => h.inbox.get(D)?.push(m) });
  h.coordinator.ready(D, -1, null);
  const benchedUntil: number[] = [];
  for (let comeback = 0; comeback < 3; comeback++) {
    // Honest steps until D is seated (a newcomer, or back from sitting out).
    while (!h.latest().stages.flat().includes(D)) {
      const next = h.latest();
      h.reportAll(next);
      await committed(h.coordinator, next.step);
    }
    // Step k opens with D on it (fetching its state); D never sends a thing, so the deadline passes.
    const a = h.latest();
    h.clock.advance(10_000);
    expect(h.last(B, 'stage-abort')?.reason).toBe('the step passed its deadline');
    // The step opens again narrowed, without D (it holds no weights to run a stage alone on).
    const narrowed = h.latest();
    expect(narrowed.step).toBe(a.step);
    expect(narrowed.stages.map((ids) => ids.length)).toEqual([1, 1]);
    expect(narrowed.stages.flat()).not.toContain(D);
    h.reportAll(narrowed);
    await committed(h.coordinator, a.step);
    benchedUntil.push(waitUntil(h, D) - a.step);
  }
  // One step of cool-down, then two, then four (counted from the step after the failed one).
  expect(benchedUntil).toEqual([2, 3, 5]);
  expect(h.commits.every((c) => c.credits.every((line) => line.peerKey !== D))).toBe(true);
});

it('a silent replica seated from the start loses the draw within two attempts', async () => {
  // The draw favours C over A; C is the one that stays silent.
  const h = setup(() => 0);
  for (const id of [A, B, C]) h.coordinator.ready(id, -1, null);
  h.clock.advance(100);
  const silent = (a: StageAssignment) => {
    for (const [s, ids] of a.stages.entries())
      for (const id of ids.filter((x) => x !== C))
        h.coordinator.stageNorm(id, { step: a.step, attempt: a.attempt, stage: s, sumOfSquares: s + 1 });
  };
  silent(h.latest());
  h.clock.advance(10_000);
  const tries: string[][] = [];
  for (let attempt = 0; attempt < 3 && h.commits.length === 0; attempt++) {
    const a = h.latest();
    tries.push(a.stages[0] as string[]);
    if (a.stages.flat().includes(C)) {
      silent(a);
      h.clock.advance(10_000);
    } else {
      h.reportAll(a);
      await committed(h.coordinator, 0);
    }
  }
  expect(tries.length).toBeLessThanOrEqual(2);
  expect(h.commits.map((c) => c.round)).toEqual([0]);
  expect(h.commits[0]?.credits.map((line) => line.peerKey)).not.toContain(C);
  expect(waitUntil(h, C)).toBe(2);
});

it('refuses a gradient norm a million times the stage’s recent median, and blames only its sender', async () => {
  const h = setup(() => 0.5);
  await seatedAndCommitted(h, NORM_HISTORY_MIN - 1);
  const a = h.latest();
  expect(a.stages[0]).toEqual([A, C].sort());
  // Stage 0's sums were 1 every step; C sends 1e300 (what froze the run's updates), A an honest 1.
  h.coordinator.stageNorm(C, { step: a.step, attempt: a.attempt, stage: 0, sumOfSquares: 1e300 });
  expect(h.last(A, 'stage-abort')?.reason).toBe('a replica of stage 0 sent an implausible gradient norm');
  const again = h.latest();
  expect(again.stages[0]).toEqual([A]); // the sender failed; A did not
  h.reportAll(again);
  await committed(h.coordinator, a.step);
  expect(waitUntil(h, C)).toBe(a.step + 2);
  // A norm within the bound (a spike of a thousand in the square) is taken.
  const b = h.latest();
  h.normAll(b, (s) => (s === 0 ? 1000 : 2));
  expect(h.last(A, 'stage-norms')).toMatchObject({ step: b.step, sumsOfSquares: [1000, 2] });
});

it('refuses a loss below zero or past four times a uniform guess’s, and one from a stage that has none', async () => {
  const h = setup(() => 0.5);
  await seatedAndCommitted(h, 0);
  for (const [stage, lossSum, from] of [
    [1, -1_000_000, B],
    [1, 4 * 4 * Math.log(256) + 1, B], // B runs all 4 microbatches of stage 1
    [0, 2, A],
  ] as const) {
    const a = h.latest();
    h.normAll(a);
    h.coordinator.stageReport(from, { step: a.step, stage, paramsHash: HASH(String(stage + 1)), lossSum });
    expect(h.last(B, 'stage-abort')?.reason).toBe(`a replica of stage ${stage} reported an impossible loss`);
  }
  const a = h.latest();
  h.reportAll(a);
  await committed(h.coordinator, 1);
  expect(h.commits.map((c) => c.trainLoss)).toEqual([0.5, 0.5]);
});

it('seats a sole replica back on its stage when it returns holding the last commit’s weights', async () => {
  const h = setup(() => 0.5);
  await seatedAndCommitted(h, 1);
  h.coordinator.leave(B); // stage 1's only replica drops
  await settle();
  expect(h.coordinator.roundInProgress).toBeNull(); // nobody holds stage 1: the run waits
  const rejoin = (round: number, hash: string | null) => {
    h.coordinator.join({ id: B, name: 'b', send: (m) => h.inbox.get(B)?.push(m) });
    h.coordinator.ready(B, round, hash);
  };
  // A claim of another step's weights, or of other weights, seats it as a newcomer: still no holder.
  rejoin(0, HASH('2'));
  expect(h.coordinator.roundInProgress).toBeNull();
  h.coordinator.leave(B);
  rejoin(1, HASH('9'));
  expect(h.coordinator.roundInProgress).toBeNull();
  h.coordinator.leave(B);
  // The weights it held at step 1: it takes stage 1 again, no transfer, and the run goes on.
  rejoin(1, HASH('2'));
  const a = h.last(B, 'stage-assignment');
  expect(a).toMatchObject({ step: 2, stage: 1, stateFrom: null });
  h.reportAll(a as StageAssignment);
  await committed(h.coordinator, 2);
  // A replica of another stage cannot claim stage 1 with that hash.
  expect(h.coordinator.stages?.[1]).toEqual([B]);
});
