// The order in which a stage volunteer runs its microbatches within one optimizer step
// (web/src/peer/pipeline-volunteer.ts), and the in-process pipeline the tests compare with the
// unsplit model runs the same one (test/helpers/pipeline/pipeline-runner.ts).
//
// Whenever it is free, a stage runs a backward whose input is here before any forward (1F1B,
// PipeDream-flush: Narayanan et al. 2021): that frees an activation slot and unblocks the stages
// below. Otherwise it runs the lowest microbatch whose forward input is here. The first stage
// needs no input to forward, so it alone is held back: at most S microbatches forwarded and not
// yet backwarded, which bounds every stage's activations (a later stage's in-flight microbatches
// are in flight on the first stage too). Inputs arrive from peers in any order; the order only
// reads what is here, so a slow neighbour delays the step and never deadlocks it.

export interface StageOp {
  readonly type: 'forward' | 'backward';
  readonly microbatch: number;
}

/** Where one stage stands in a step. */
export interface StageProgress {
  readonly stage: number;
  /** S. */
  readonly stages: number;
  /** The microbatches this stage runs, in order (a replica runs those its route gives it). */
  readonly mine: readonly number[];
  readonly forwarded: ReadonlySet<number>;
  readonly backwarded: ReadonlySet<number>;
}

/**
 * The op to run next, or null while none can run. `hasInput(type, m)` says whether the
 * neighbour's frame for it is here; it is not asked where a stage needs none (the first stage's
 * forwards read the step's tokens, the last stage's backwards its own loss).
 */
export function nextStageOp(
  p: StageProgress,
  hasInput: (type: StageOp['type'], microbatch: number) => boolean,
): StageOp | null {
  const isFirst = p.stage === 0;
  const isLast = p.stage === p.stages - 1;
  for (const m of p.mine) {
    if (!p.forwarded.has(m) || p.backwarded.has(m)) continue;
    if (isLast || hasInput('backward', m)) return { type: 'backward', microbatch: m };
  }
  const inFlight = p.forwarded.size - p.backwarded.size;
  for (const m of p.mine) {
    if (p.forwarded.has(m)) continue;
    if (isFirst) return inFlight < p.stages ? { type: 'forward', microbatch: m } : null;
    if (hasInput('forward', m)) return { type: 'forward', microbatch: m };
  }
  return null;
}
