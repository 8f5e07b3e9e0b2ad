// Pipeline schedules as data: for S stages and M microbatches, the ordered forward (F m) and
// backward (B m) ops each stage runs in one optimizer step, and a simulator that times them.
// The textbook reference for the order stage volunteers run (kernels/pipeline/stage-order.ts):
// with frames crossing in order it is this 1F1B (test/unit/pipeline/stage-order.test.ts).
//
// 1F1B, PipeDream-flush (Narayanan et al. 2021, "Memory-efficient pipeline-parallel DNN
// training", and Megatron-LM's default schedule): stage s (0-based) first runs S − s − 1 warm-up
// forwards, then alternates one forward and one backward, then drains the remaining backwards;
// a flush at the end of the step keeps the update synchronous, so the result equals training
// on the whole batch. It idles as long as GPipe (Huang et al. 2019) does, a bubble of
// (S − 1)/(M + S − 1) of the time with equal op times, but stage s holds at most S − s
// microbatches' activations at once instead of all M.

import type { StageOp } from '../../../kernels/pipeline/stage-order.ts';

/** The ops of stage-order.ts: a schedule lists what nextStageOp() hands out one at a time. */
export type PipelineOp = StageOp;

export interface PipelineSchedule {
  readonly stages: number;
  readonly microbatches: number;
  /** ops[s]: stage s's ops, in the order it runs them. */
  readonly ops: readonly (readonly PipelineOp[])[];
}

const F = (microbatch: number): PipelineOp => ({ type: 'forward', microbatch });
const B = (microbatch: number): PipelineOp => ({ type: 'backward', microbatch });

function checkCounts(S: number, M: number): void {
  if (!(Number.isInteger(S) && S >= 1)) throw new RangeError(`stages must be a positive integer, got ${S}`);
  if (!(Number.isInteger(M) && M >= 1))
    throw new RangeError(`microbatches must be a positive integer, got ${M}`);
}

/** The 1F1B (PipeDream-flush) schedule. */
export function oneForwardOneBackward(S: number, M: number): PipelineSchedule {
  checkCounts(S, M);
  const ops = Array.from({ length: S }, (_, s) => {
    const warmup = Math.min(S - s - 1, M);
    const list: PipelineOp[] = [];
    for (let m = 0; m < warmup; m++) list.push(F(m));
    for (let m = warmup; m < M; m++) list.push(F(m), B(m - warmup));
    for (let m = M - warmup; m < M; m++) list.push(B(m));
    return list;
  });
  return { stages: S, microbatches: M, ops };
}

/** GPipe: every forward, then every backward; for comparison (it keeps all M in flight). */
export function gpipe(S: number, M: number): PipelineSchedule {
  checkCounts(S, M);
  const ops = Array.from({ length: S }, () => [
    ...Array.from({ length: M }, (_, m) => F(m)),
    ...Array.from({ length: M }, (_, m) => B(m)),
  ]);
  return { stages: S, microbatches: M, ops };
}

/** The most microbatches whose forward has run and backward has not, over `ops`: the activation slots a stage needs. */
export function peakInFlight(ops: readonly PipelineOp[]): number {
  let live = 0;
  let peak = 0;
  for (const op of ops) {
    live += op.type === 'forward' ? 1 : -1;
    peak = Math.max(peak, live);
  }
  return peak;
}

/** Throws unless every stage runs each F m and B m exactly once, B m after F m. */
export function validateSchedule(schedule: PipelineSchedule): void {
  const { stages, microbatches: M, ops } = schedule;
  if (ops.length !== stages) throw new RangeError(`${ops.length} op lists for ${stages} stages`);
  for (const [s, list] of ops.entries()) {
    const seen = { forward: new Set<number>(), backward: new Set<number>() };
    for (const op of list) {
      const m = op.microbatch;
      if (!(Number.isInteger(m) && m >= 0 && m < M)) throw new RangeError(`stage ${s}: microbatch ${m}`);
      if (seen[op.type].has(m)) throw new RangeError(`stage ${s}: ${op.type} ${m} twice`);
      if (op.type === 'backward' && !seen.forward.has(m))
        throw new RangeError(`stage ${s}: backward ${m} before its forward`);
      seen[op.type].add(m);
    }
    if (seen.forward.size !== M || seen.backward.size !== M)
      throw new RangeError(
        `stage ${s}: ${seen.forward.size} forwards and ${seen.backward.size} backwards of ${M}`,
      );
  }
}

export interface TimedOp {
  readonly op: PipelineOp;
  readonly start: number;
  readonly end: number;
}

export interface SimulatedStep {
  /** Time from the first op's start to the last op's end. */
  readonly makespan: number;
  /** busy[s]: the sum of stage s's op durations. */
  readonly busy: readonly number[];
  /** Idle share of S × makespan. */
  readonly bubble: number;
  /** timeline[s]: stage s's ops with their times, in its order. */
  readonly timeline: readonly (readonly TimedOp[])[];
}

/**
 * Runs `schedule` in simulated time: each stage runs its ops in order, each as soon as the stage
 * is free and its input has arrived. F m on stage s waits for F m on s − 1, B m on s for B m on
 * s + 1 (the last stage's B m for its own F m, which its order already gives), plus `transfer`
 * for the crossing. Throws when the schedule deadlocks.
 */
export function simulate(
  schedule: PipelineSchedule,
  duration: (stage: number, op: PipelineOp) => number,
  transfer: (stage: number, op: PipelineOp) => number = () => 0,
): SimulatedStep {
  validateSchedule(schedule);
  const { stages: S, microbatches: M, ops } = schedule;
  const done = {
    forward: Array.from({ length: S }, () => new Array<number>(M).fill(Number.NaN)),
    backward: Array.from({ length: S }, () => new Array<number>(M).fill(Number.NaN)),
  };
  const next = new Array<number>(S).fill(0);
  const free = new Array<number>(S).fill(0);
  const busy = new Array<number>(S).fill(0);
  const timeline: TimedOp[][] = Array.from({ length: S }, () => []);
  let remaining = ops.reduce((n, list) => n + list.length, 0);
  while (remaining > 0) {
    let progressed = false;
    for (let s = 0; s < S; s++) {
      for (;;) {
        const op = ops[s]?.[next[s] as number];
        if (!op) break;
        const from = op.type === 'forward' ? s - 1 : s + 1;
        const upstream = from >= 0 && from < S ? done[op.type][from]?.[op.microbatch] : 0;
        if (upstream === undefined || Number.isNaN(upstream)) break;
        const arrives = from >= 0 && from < S ? upstream + transfer(s, op) : 0;
        const start = Math.max(free[s] as number, arrives);
        const took = duration(s, op);
        const end = start + took;
        (done[op.type][s] as number[])[op.microbatch] = end;
        timeline[s]?.push({ op, start, end });
        free[s] = end;
        busy[s] = (busy[s] as number) + took;
        next[s] = (next[s] as number) + 1;
        remaining--;
        progressed = true;
      }
    }
    if (!progressed) throw new RangeError('the schedule deadlocks: no stage can run its next op');
  }
  const makespan = Math.max(...free);
  const work = busy.reduce((a, b) => a + b, 0);
  return { makespan, busy, bubble: makespan > 0 ? 1 - work / (S * makespan) : 0, timeline };
}

/** The ideal bubble of GPipe and 1F1B with equal op times: (S − 1) / (M + S − 1). */
export function idealBubble(S: number, M: number): number {
  checkCounts(S, M);
  return (S - 1) / (M + S - 1);
}
