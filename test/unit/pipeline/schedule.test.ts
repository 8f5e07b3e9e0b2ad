// The 1F1B schedule as data: every stage's order respects the data dependencies, a stage never
// holds more than S − s microbatches' activations, and the simulated bubble is the textbook
// (S − 1)/(M + S − 1).
import { describe, expect, it } from 'vitest';
import {
  gpipe,
  idealBubble,
  oneForwardOneBackward,
  type PipelineOp,
  type PipelineSchedule,
  peakInFlight,
  simulate,
  validateSchedule,
} from '../../helpers/pipeline/schedule.ts';

const name = (op: PipelineOp) => `${op.type === 'forward' ? 'F' : 'B'}${op.microbatch}`;

/** Checks the dependencies on the simulated timeline, whatever the op durations. */
function expectDependenciesHold(schedule: PipelineSchedule, duration: (s: number, op: PipelineOp) => number) {
  const { timeline } = simulate(schedule, duration);
  const end = (s: number, op: PipelineOp) =>
    timeline[s]?.find((t) => t.op.type === op.type && t.op.microbatch === op.microbatch)?.end ?? Number.NaN;
  for (const [s, ops] of timeline.entries()) {
    for (const { op, start } of ops) {
      const m = op.microbatch;
      if (op.type === 'forward' && s > 0) expect(start).toBeGreaterThanOrEqual(end(s - 1, op));
      if (op.type === 'backward') {
        expect(start).toBeGreaterThanOrEqual(end(s, { type: 'forward', microbatch: m }));
        if (s < schedule.stages - 1) expect(start).toBeGreaterThanOrEqual(end(s + 1, op));
      }
    }
    // A stage runs one op at a time.
    for (let i = 1; i < ops.length; i++)
      expect(ops[i]?.start).toBeGreaterThanOrEqual(ops[i - 1]?.end as number);
  }
}

describe('1F1B schedule', () => {
  it('is the PipeDream-flush order for 4 stages and 6 microbatches', () => {
    const { ops } = oneForwardOneBackward(4, 6);
    const orders = ops.map((list) => list.map(name).join(' '));
    console.log(orders.join('\n'));
    expect(orders).toEqual([
      'F0 F1 F2 F3 B0 F4 B1 F5 B2 B3 B4 B5',
      'F0 F1 F2 B0 F3 B1 F4 B2 F5 B3 B4 B5',
      'F0 F1 B0 F2 B1 F3 B2 F4 B3 F5 B4 B5',
      'F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5',
    ]);
  });

  it('keeps every dependency and at most S − s microbatches in flight, for many S and M', () => {
    for (let S = 1; S <= 5; S++) {
      for (let M = 1; M <= 9; M++) {
        const schedule = oneForwardOneBackward(S, M);
        validateSchedule(schedule);
        for (const [s, ops] of schedule.ops.entries()) {
          expect(peakInFlight(ops)).toBe(Math.min(M, S - s));
          expect(peakInFlight(ops)).toBeLessThanOrEqual(S);
        }
        expectDependenciesHold(schedule, () => 1);
        // Uneven durations (slow backward, slow middle stage) must not break the order either.
        expectDependenciesHold(schedule, (s, op) => (op.type === 'backward' ? 2 : 1) * (s === 1 ? 3 : 1));
      }
    }
  });

  it('idles (S − 1)/(M + S − 1) of the time when ops take equal times', () => {
    for (const [S, M] of [
      [2, 1],
      [2, 4],
      [3, 4],
      [4, 8],
      [4, 16],
      [8, 3],
    ] as const) {
      const schedule = oneForwardOneBackward(S, M);
      const equal = simulate(schedule, () => 1);
      // The backward taking twice the forward, as it roughly does, gives the same bubble.
      const realistic = simulate(schedule, (_, op) => (op.type === 'forward' ? 1 : 2));
      console.log(
        `S=${S} M=${M}: bubble ${equal.bubble.toFixed(4)} (tB = 2 tF: ${realistic.bubble.toFixed(4)}), formula ${idealBubble(S, M).toFixed(4)}`,
      );
      expect(equal.bubble).toBeCloseTo(idealBubble(S, M), 12);
      expect(realistic.bubble).toBeCloseTo(idealBubble(S, M), 12);
      expect(equal.makespan).toBe(2 * (M + S - 1));
      expect(realistic.makespan).toBe(3 * (M + S - 1));
    }
  });

  it('matches GPipe in time but not in memory', () => {
    const S = 4;
    const M = 8;
    const ofb = oneForwardOneBackward(S, M);
    const all = gpipe(S, M);
    expect(simulate(ofb, () => 1).makespan).toBe(simulate(all, () => 1).makespan);
    expect(Math.max(...all.ops.map(peakInFlight))).toBe(M);
    expect(Math.max(...ofb.ops.map(peakInFlight))).toBe(S);
  });

  it('counts link latency as waiting', () => {
    const schedule = oneForwardOneBackward(2, 1);
    // F0 on stage 0, 0.5 to cross, F0 and B0 on stage 1, 0.5 back, B0 on stage 0.
    expect(
      simulate(
        schedule,
        () => 1,
        () => 0.5,
      ).makespan,
    ).toBe(5);
  });

  it('refuses invalid schedules', () => {
    const F = (m: number): PipelineOp => ({ type: 'forward', microbatch: m });
    const B = (m: number): PipelineOp => ({ type: 'backward', microbatch: m });
    expect(() => validateSchedule({ stages: 1, microbatches: 1, ops: [[B(0), F(0)]] })).toThrow(/before/);
    expect(() => validateSchedule({ stages: 1, microbatches: 2, ops: [[F(0), B(0)]] })).toThrow(/forwards/);
    expect(() => validateSchedule({ stages: 1, microbatches: 1, ops: [[F(0), F(0), B(0)]] })).toThrow(
      /twice/,
    );
    // Stage 0 waits for B0 from stage 1, which waits for F1 that stage 0 runs only after B0.
    const deadlock = {
      stages: 2,
      microbatches: 2,
      ops: [
        [F(0), B(0), F(1), B(1)],
        [F(1), F(0), B(0), B(1)],
      ],
    };
    expect(() => simulate(deadlock, () => 1)).toThrow(/deadlock/);
    expect(() => oneForwardOneBackward(0, 1)).toThrow(RangeError);
    expect(() => oneForwardOneBackward(2, 0)).toThrow(RangeError);
  });
});
