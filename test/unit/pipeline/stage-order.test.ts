// The order a stage volunteer runs its microbatches in (kernels/pipeline/stage-order.ts): with
// frames crossing in order it is the textbook 1F1B (so its bubble and memory are 1F1B's, which
// schedule.test.ts measures); with frames arriving in any order and microbatches split between
// replicas it still runs every op once, each backward after its forward, never holds more than
// S microbatches in flight on the first stage, and never deadlocks.
import { describe, expect, it } from 'vitest';
import { nextStageOp, type StageOp } from '../../../kernels/pipeline/stage-order.ts';
import { createRng } from '../../../protocol/rng.ts';
import { stageOrder } from '../../helpers/pipeline/drive-stages.ts';
import { oneForwardOneBackward, peakInFlight, validateSchedule } from '../../helpers/pipeline/schedule.ts';

const F = (microbatch: number): StageOp => ({ type: 'forward', microbatch });
const B = (microbatch: number): StageOp => ({ type: 'backward', microbatch });

describe('stage order', () => {
  it('is 1F1B when frames cross in order, for many S and M', () => {
    for (let S = 1; S <= 5; S++)
      for (let M = 1; M <= 9; M++) expect(stageOrder(S, M)).toEqual(oneForwardOneBackward(S, M).ops);
  });

  it('runs a backward whose input is here before any forward, and the lowest ready microbatch', () => {
    const middle = {
      stage: 1,
      stages: 3,
      mine: [0, 1, 2, 3],
      forwarded: new Set([0, 1]),
      backwarded: new Set<number>(),
    };
    const here = (frames: string[]) => (type: StageOp['type'], m: number) => frames.includes(`${type}:${m}`);
    expect(nextStageOp(middle, here(['forward:2', 'backward:1']))).toEqual(B(1));
    expect(nextStageOp(middle, here(['forward:3', 'forward:2']))).toEqual(F(2));
    expect(nextStageOp(middle, here(['forward:3']))).toEqual(F(3));
    expect(nextStageOp(middle, here(['backward:2']))).toBeNull(); // 2 was not forwarded here
    // The last stage backwards what it forwarded without waiting for anyone.
    const last = { ...middle, stage: 2 };
    expect(nextStageOp(last, here([]))).toEqual(B(0));
  });

  it('holds the first stage at S microbatches in flight, and runs only the microbatches the route gives it', () => {
    const first = {
      stage: 0,
      stages: 2,
      mine: [1, 3, 5],
      forwarded: new Set([1, 3]),
      backwarded: new Set<number>(),
    };
    const none = () => false;
    expect(nextStageOp(first, none)).toBeNull();
    expect(nextStageOp({ ...first, backwarded: new Set([1]) }, none)).toEqual(F(5));
    expect(nextStageOp({ ...first, forwarded: new Set() }, none)).toEqual(F(1));
    const done = { ...first, forwarded: new Set([1, 3, 5]), backwarded: new Set([1, 3, 5]) };
    expect(nextStageOp(done, () => true)).toBeNull();
  });

  it('finishes whatever order the frames arrive in, with replicas sharing a stage', () => {
    const rng = createRng(3);
    for (let trial = 0; trial < 200; trial++) {
      const S = 1 + rng.nextBelow(4);
      const M = 1 + rng.nextBelow(8);
      const R = 1 + rng.nextBelow(3); // replicas per stage; microbatch m runs on replica m mod R
      const peers = Array.from({ length: S * R }, (_, i) => ({
        stage: Math.floor(i / R),
        stages: S,
        mine: Array.from({ length: M }, (_, m) => m).filter((m) => m % R === i % R),
        forwarded: new Set<number>(),
        backwarded: new Set<number>(),
        ran: [] as StageOp[],
        inbox: new Set<string>(),
      }));
      const peerOf = (s: number, m: number) => peers[s * R + (m % R)];
      // Frames in flight, delivered one at a time in random order.
      const wire: { to: (typeof peers)[number]; key: string }[] = [];
      for (let guard = 0; ; guard++) {
        expect(guard).toBeLessThan(10_000);
        const runnable = peers.flatMap((p) => {
          const op = nextStageOp(p, (type, m) => p.inbox.has(`${type}:${m}`));
          return op ? [{ p, op }] : [];
        });
        if (runnable.length === 0 && wire.length === 0) break;
        if (wire.length > 0 && (runnable.length === 0 || rng.nextBelow(2) === 0)) {
          const [frame] = wire.splice(rng.nextBelow(wire.length), 1);
          frame?.to.inbox.add(frame.key);
          continue;
        }
        const { p, op } = runnable[rng.nextBelow(runnable.length)] as (typeof runnable)[number];
        const m = op.microbatch;
        p.ran.push(op);
        if (op.type === 'forward') {
          p.forwarded.add(m);
          const to = peerOf(p.stage + 1, m);
          if (to) wire.push({ to, key: `forward:${m}` });
        } else {
          p.backwarded.add(m);
          const to = peerOf(p.stage - 1, m);
          if (to) wire.push({ to, key: `backward:${m}` });
        }
        if (p.stage === 0) expect(p.forwarded.size - p.backwarded.size).toBeLessThanOrEqual(S);
      }
      for (const p of peers) {
        expect(p.forwarded).toEqual(new Set(p.mine));
        expect(p.backwarded).toEqual(new Set(p.mine));
        const ids = new Map(p.mine.map((m, i) => [m, i]));
        const local = p.ran.map((op) => ({ ...op, microbatch: ids.get(op.microbatch) as number }));
        validateSchedule({ stages: 1, microbatches: p.mine.length, ops: [local] });
        expect(peakInFlight(p.ran)).toBeLessThanOrEqual(S);
      }
    }
  });
});
