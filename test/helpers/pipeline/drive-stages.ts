// Runs S stages in one process in the order stage volunteers run them
// (kernels/pipeline/stage-order.ts): each pass gives every stage that can run an op one op, until
// every stage has forwarded and backwarded each of the step's M microbatches. In one process the
// order across stages is free; within a stage it is the volunteer's.
import { nextStageOp, type StageOp } from '../../../kernels/pipeline/stage-order.ts';

/** Stage s has the neighbour's frame for op (type, m). */
export type HasInput = (s: number, type: StageOp['type'], m: number) => boolean;

/**
 * Yields [stage, op] in the order they run; the caller runs each op (handing its output on)
 * before asking for the next. Throws when no stage can run (the inputs never came).
 */
export function* stageOps(S: number, M: number, hasInput: HasInput): Generator<[number, StageOp]> {
  const mine = Array.from({ length: M }, (_, m) => m);
  const progress = Array.from({ length: S }, (_, stage) => ({
    stage,
    stages: S,
    mine,
    forwarded: new Set<number>(),
    backwarded: new Set<number>(),
  }));
  let remaining = 2 * S * M;
  while (remaining > 0) {
    let progressed = false;
    for (const p of progress) {
      const op = nextStageOp(p, (type, m) => hasInput(p.stage, type, m));
      if (!op) continue;
      yield [p.stage, op];
      (op.type === 'forward' ? p.forwarded : p.backwarded).add(op.microbatch);
      remaining--;
      progressed = true;
    }
    if (!progressed) throw new Error('pipeline deadlocked: no stage has its input');
  }
}

/**
 * Each stage's ops in the order it runs them when frames cross at once and in order, as between
 * the in-process runner's links (pipeline-runner.ts), found without running anything.
 */
export function stageOrder(S: number, M: number): StageOp[][] {
  // up[s]: forward frames waiting for stage s; down[s]: backward frames waiting for stage s.
  const up: number[][] = Array.from({ length: S }, () => []);
  const down: number[][] = Array.from({ length: S }, () => []);
  const ran: StageOp[][] = up.map(() => []);
  const waiting: HasInput = (s, type, m) => (type === 'forward' ? up[s] : down[s])?.[0] === m;
  for (const [s, op] of stageOps(S, M, waiting)) {
    ran[s]?.push(op);
    const m = op.microbatch;
    if (op.type === 'forward') {
      if (s > 0) up[s]?.shift();
      if (s < S - 1) up[s + 1]?.push(m);
    } else {
      if (s < S - 1) down[s]?.shift();
      if (s > 0) down[s - 1]?.push(m);
    }
  }
  return ran;
}
