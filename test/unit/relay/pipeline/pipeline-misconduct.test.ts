// The relay's pipeline steps against replicas that misbehave, each as the outside attack on the
// pipeline found them: a silent replica, a norm no gradient could have, a lie about the loss,
// and a sole replica's blip. A step that fails opens again narrowed to one replica of each
// suspect stage, and the replicas left out of the commit that failed sit out a cool-down that
// doubles; a replica that comes back holding the last commit's weights takes its stage again.
import { expect, it } from 'vitest';
import { createRng } from '../../../../protocol/rng.ts';
import { BOUND_FACTOR, NORM_HISTORY_MIN } from '../../../../relay/pipeline/norm-bound.ts';
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

it('a silent newcomer sits out twice as long after each stall, however it comes back, and earns nothing', async () => {
  const h = setup(() => 0.5);
  await seatedAndCommitted(h, 0);
  const D = KEY('d');
  h.inbox.set(D, []);
  h.coordinator.join({ id: D, name: 'd', send: (m) => h.inbox.get(D)?.push(m) });
  h.coordinator.ready(D, -1, null);
  const stalledAt: number[] = [];
  for (let step = 1; step <= 40; step++) {
    const a = h.latest();
    expect(a.step).toBe(step);
    if (a.stages.flat().includes(D)) {
      // D is seated (fetching its state) and never sends a thing: the deadline passes.
      h.clock.advance(10_000);
      expect(h.last(B, 'stage-abort')?.reason).toBe('the step passed its deadline');
      stalledAt.push(step);
      // The step opens again narrowed, without D (it holds no weights to run a stage alone on).
      const narrowed = h.latest();
      expect(narrowed.stages.map((ids) => ids.length)).toEqual([1, 1]);
      expect(narrowed.stages.flat()).not.toContain(D);
      h.reportAll(narrowed);
    } else h.reportAll(a);
    await committed(h.coordinator, step);
  }
  // D is seated from step 2; each stall benches it twice as long as the last (it never committed
  // on its stage: the stall is pinned on it), and nobody else sits out.
  expect(stalledAt).toEqual([2, 4, 7, 12, 21, 38]);
  expect(h.last(D, 'wait')?.reason).toMatch(/failed step 38 and sits out until step 71$/); // 2^5 steps
  expect([A, B, C].some((id) => h.last(id, 'wait')?.reason.includes('sits out'))).toBe(false);
  expect(h.commits.every((c) => c.credits.every((line) => line.peerKey !== D))).toBe(true);
});

/**
 * Seats A, B and C, commits steps 0 to `through`, then seats D (on stage 1 beside B, the
 * long-seated one) and commits one honest step with both, so both hold stage 1's weights.
 */
async function twinOfLongSeated(h: ReturnType<typeof setup>, through: number) {
  await seatedAndCommitted(h, through);
  const D = KEY('d');
  h.inbox.set(D, []);
  h.coordinator.join({ id: D, name: 'd', send: (m) => h.inbox.get(D)?.push(m) });
  h.coordinator.ready(D, -1, null);
  for (;;) {
    const a = h.latest();
    h.reportAll(a);
    await committed(h.coordinator, a.step);
    if (a.stages[1]?.includes(D)) return D;
  }
}

/**
 * Runs `steps` steps where B, stage 1's long-seated replica, does `misbehave` in every attempt it
 * shares with its twin and behaves when it runs stage 1 alone. Returns who ran each narrowed
 * step of stage 1, and how many shared attempts B spoilt.
 */
async function longSeatedSpoiler(
  h: ReturnType<typeof setup>,
  steps: number,
  misbehave: (a: StageAssignment) => void,
): Promise<{ ran: string[]; spoilt: number }> {
  const ran: string[] = [];
  let spoilt = 0;
  const first = h.latest().step;
  for (let step = first; step < first + steps; step++) {
    for (;;) {
      const a = h.latest();
      expect(a.step).toBe(step);
      const stage1 = a.stages[1] as string[];
      if (stage1.length === 2) {
        misbehave(a);
        spoilt++;
        continue;
      }
      ran.push(stage1[0] as string);
      h.reportAll(a);
      await committed(h.coordinator, step);
      break;
    }
  }
  return { ran, spoilt };
}

/** B stays silent: the deadline passes. */
const silentB = (h: ReturnType<typeof setup>) => () => h.clock.advance(10_000);
/** B reports other weights than its twin's. */
const lyingB = (h: ReturnType<typeof setup>) => (a: StageAssignment) => {
  h.normAll(a);
  for (const [s, ids] of a.stages.entries())
    for (const id of ids)
      h.coordinator.stageReport(id, {
        step: a.step,
        stage: s,
        paramsHash: HASH(id === B ? 'f' : String(s + 1)),
        lossSum: s === 1 ? 2 : null,
      });
  expect(h.last(A, 'stage-abort')?.reason).toBe('the replicas of stage 1 hold different weights');
};

for (const [what, spoiler] of [
  ['stalls', silentB],
  ['disagrees with its twin', lyingB],
] as const) {
  it(`a long-seated replica that ${what} in every shared step wins its stage by the draw alone, and spoils ever fewer steps`, async () => {
    // Who runs the first narrowed step is the relay's draw, not 30 steps of tenure: over twenty
    // draws, each twin wins it about half the time.
    const winners: string[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const draw = createRng(seed * 7919);
      const h = setup(() => draw.nextFloat());
      await twinOfLongSeated(h, 29);
      winners.push((await longSeatedSpoiler(h, 1, spoiler(h))).ran[0] as string);
    }
    expect(winners.filter((id) => id === B).length).toBeGreaterThanOrEqual(5);
    expect(winners.filter((id) => id !== B).length).toBeGreaterThanOrEqual(5);
    // Over 100 steps it spoils 7 attempts (windows of 1, 2, 4, ..., 64 steps), not 100, and no
    // honest replica is benched for what it did.
    const draw = createRng(3);
    const h = setup(() => draw.nextFloat());
    const D = await twinOfLongSeated(h, 29);
    const { spoilt } = await longSeatedSpoiler(h, 100, spoiler(h));
    expect(spoilt).toBeLessThanOrEqual(8);
    expect([A, C, D].some((id) => h.last(id, 'wait')?.reason.includes('sits out'))).toBe(false);
  });
}

it('a replica that leaves mid-step sits out once the step commits without it, longer each time', async () => {
  const h = setup(() => 0.5);
  await seatedAndCommitted(h, 0);
  const benched: number[] = [];
  for (let loop = 0; loop < 3; loop++) {
    while (!h.latest().stages.flat().includes(C)) {
      const a = h.latest();
      h.reportAll(a);
      await committed(h.coordinator, a.step);
    }
    const a = h.latest();
    h.normAll(a);
    h.coordinator.leave(C);
    expect(h.last(B, 'stage-abort')?.reason).toBe('a stage replica left');
    h.coordinator.join({ id: C, name: 'c', send: (m) => h.inbox.get(C)?.push(m) });
    h.coordinator.ready(C, -1, null);
    const again = h.latest();
    expect(again.step).toBe(a.step);
    expect(again.stages.flat()).not.toContain(C);
    h.reportAll(again);
    await committed(h.coordinator, a.step);
    benched.push(waitUntil(h, C) - a.step);
  }
  expect(benched).toEqual([2, 3, 5]);
});

it('a norm a million times the stage’s median fails its sender when alone, and is a disagreement beside a twin', async () => {
  const h = setup(() => 0.5);
  await seatedAndCommitted(h, NORM_HISTORY_MIN - 1);
  // Stage 1's only replica sends 1e300 (what froze a run's updates): it alone failed.
  const a = h.latest();
  h.coordinator.stageNorm(B, { step: a.step, attempt: a.attempt, stage: 1, sumOfSquares: 1e300 });
  expect(h.last(A, 'stage-abort')?.reason).toBe('a replica of stage 1 sent an implausible gradient norm');
  // Stage 0's C sends it beside A's honest 1: which of the two lies is the draw's to settle.
  const b = h.latest();
  h.coordinator.stageNorm(C, { step: b.step, attempt: b.attempt, stage: 0, sumOfSquares: 1e300 });
  h.normAll(b, (s) => s + 1);
  expect(h.last(A, 'stage-abort')?.reason).toBe('the replicas of stage 0 sent different gradient norms');
  const again = h.latest();
  expect(again.stages[0]).toHaveLength(1);
  // A norm within the bound (a spike of a thousand in the square) is taken.
  h.normAll(again, (s) => (s === 0 ? 1000 : 2));
  expect(h.last(B, 'stage-norms')).toMatchObject({ step: again.step, sumsOfSquares: [1000, 2] });
});

it('a sole replica cannot freeze the run with a huge norm from step 0, nor by growing it step by step', async () => {
  const h = setup(() => 0.5);
  for (const id of [A, B, C]) h.coordinator.ready(id, -1, null);
  h.clock.advance(100);
  // Step 0: B, stage 1's only replica, sends float32's largest where stage 0 sends 1.
  const first = h.latest();
  h.normAll(first, (s) => (s === 0 ? 1 : 3.4e38));
  expect(h.last(A, 'stage-abort')?.reason).toBe(
    'the replicas of stage 1 sent a gradient norm a thousand times every other stage’s',
  );
  expect(h.last(A, 'stage-norms')).toBeUndefined();
  // Then honestly for a while, then ×2.3 a step: within its own median's bound every step, but
  // the cross-stage bound stops it before its sum passes a million times stage 0's.
  let sum = 2;
  let refusedAt = -1;
  for (let step = 0; step < 60 && refusedAt < 0; step++) {
    const a = h.latest();
    if (step >= 10) sum *= 2.3;
    h.normAll(a, (s) => (s === 0 ? 1 : sum));
    if (!h.last(A, 'stage-norms') || h.last(A, 'stage-norms')?.step !== step) {
      refusedAt = step;
      break;
    }
    for (const [s, ids] of a.stages.entries())
      for (const id of ids)
        h.coordinator.stageReport(id, {
          step,
          stage: s,
          paramsHash: HASH(String(s + 1)),
          lossSum: s === 1 ? 2 : null,
        });
    await committed(h.coordinator, step);
  }
  expect(refusedAt).toBeGreaterThan(10);
  expect(sum).toBeGreaterThan(BOUND_FACTOR);
  expect(sum / 2.3).toBeLessThanOrEqual(BOUND_FACTOR);
});

it('a tiny norm on one stage fails the step on nobody: the other stage is not blamed for looking huge', async () => {
  const h = setup(() => 0.5);
  await seatedAndCommitted(h, NORM_HISTORY_MIN + 1);
  const before = h.coordinator.abortedSteps;
  // B, stage 1's only replica, sends 5e-7: within its own history (there is no lower bound),
  // and less than a millionth of stage 0's honest 1.
  for (let i = 0; i < 3; i++) h.normAll(h.latest(), (s) => (s === 0 ? 1 : 5e-7));
  expect(h.last(A, 'stage-abort')?.reason).toBe(
    'the replicas of stage 0 sent a gradient norm a thousand times every other stage’s',
  );
  expect(h.coordinator.abortedSteps).toBe(before + 3);
  // Nobody is benched for it once B behaves and the step commits.
  const a = h.latest();
  h.reportAll(a);
  await committed(h.coordinator, a.step);
  expect([A, B, C].some((id) => h.last(id, 'wait')?.reason.includes('sits out'))).toBe(false);
});

it('a sole replica’s drifted norms do not bound the honest newcomer that joins it', async () => {
  const h = setup(() => 0.5);
  for (const id of [A, B, C]) h.coordinator.ready(id, -1, null);
  h.clock.advance(100);
  /** Every seated replica sends `sumOf(stage)`, then reports; the step commits. */
  const step = async (sumOf: (s: number) => number) => {
    const a = h.latest();
    h.normAll(a, sumOf);
    for (const [s, ids] of a.stages.entries())
      for (const id of ids)
        h.coordinator.stageReport(id, {
          step: a.step,
          stage: s,
          paramsHash: HASH(String(s + 1)),
          lossSum: s === 1 ? 2 : null,
        });
    await committed(h.coordinator, a.step);
    return a;
  };
  // B, stage 1's only replica, sends 1e-7 from step 0 (stage 0 sends 1e-2): its stage's median.
  for (let i = 0; i < 12; i++) await step((s) => (s === 0 ? 1e-2 : 1e-7));
  const D = KEY('d');
  h.inbox.set(D, []);
  h.coordinator.join({ id: D, name: 'd', send: (m) => h.inbox.get(D)?.push(m) });
  h.coordinator.ready(D, -1, null);
  while (!h.latest().stages[1]?.includes(D)) await step((s) => (s === 0 ? 1e-2 : 1e-7));
  // D and B, now honest, agree on 2: twenty million times B's median. The history was B's alone,
  // so it does not bound D's first step, and it starts again once D has committed.
  const shared = await step((s) => (s === 0 ? 1e-2 : 2));
  expect(shared.stages[1]).toEqual([B, D].sort());
  for (let i = 0; i < 10; i++) await step((s) => (s === 0 ? 1e-2 : 2));
  expect([A, B, C, D].some((id) => h.last(id, 'wait')?.reason.includes('sits out'))).toBe(false);
});

it('a stage whose only replica leaves before the first commit is opened from θ_0 by the next volunteer', async () => {
  const h = setup(() => 0.5);
  for (const id of [A, B, C]) h.coordinator.ready(id, -1, null);
  h.clock.advance(100);
  h.coordinator.leave(B); // stage 1's only replica, before step 0 commits
  await settle();
  const D = KEY('d');
  h.inbox.set(D, []);
  h.coordinator.join({ id: D, name: 'd', send: (m) => h.inbox.get(D)?.push(m) });
  h.coordinator.ready(D, -1, null);
  const a = h.last(D, 'stage-assignment') as StageAssignment;
  expect(a).toMatchObject({ step: 0, stage: 1, stateFrom: null });
  h.reportAll(a);
  await committed(h.coordinator, 0);
});

it('refuses a loss of zero or below, or past four times a uniform guess’s, and one from a stage that has none', async () => {
  const h = setup(() => 0.5);
  await seatedAndCommitted(h, 0);
  for (const [stage, lossSum, from] of [
    [1, -1_000_000, B],
    [1, 0, B], // a perfect model: cross-entropy through a softmax is never 0
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
