// Which counted contributions do measurable good (Zeno, Xie, Koyejo and Gupta, ICML 2019, in
// its simplest form): the relay takes a short step along each contribution alone from θ_r and
// scores the result on its held-out batch. One that leaves the loss no lower than θ_r's is not
// aggregated. The step is short (SCORE_STEP of the contribution) because a single 1-bit frame
// is mostly sign noise that only averaging cancels: at full length its noise can raise the loss
// even when its direction descends (seen on the default model), while along a short step the
// first-order term, the direction, decides. A
// robust aggregate bounds what a minority can do to the direction of a step; this bounds what
// any number of identities can do to its size: a dozen keys that send zeros (or noise, or a
// flipped step) all score no better than θ_r, so they cannot dilute the honest step however
// many they are. The scores are the relay's own measurement; no peer's report enters them.

import type { ParamLayout } from '../../protocol/param-layout.ts';
import type { RoundState } from '../../protocol/round-state-file.ts';
import {
  type CountedFrame,
  type FrameExpectation,
  type OuterSettings,
  roundUpdate,
} from '../../protocol/round-update.ts';

/** The smallest improvement that counts, relative to θ_r's loss. */
export const MIN_RELATIVE_IMPROVEMENT = 1e-6;
/** The fraction of a contribution's step along which it is scored. */
export const SCORE_STEP = 0.1;

export interface Screening {
  /** Contributions whose step alone lowered the held-out loss, in the order given. */
  readonly kept: readonly CountedFrame[];
  /** Held-out loss improvement of each contribution's step alone (θ_r's loss minus its). */
  readonly improvement: ReadonlyMap<string, number>;
}

/**
 * Scores every frame alone; keeps those with a positive improvement over `baseLoss`. When none
 * has one (late in training a small batch may not see any single step help), all are kept:
 * the screening then has nothing to tell apart, and the guard still judges the aggregate.
 */
export function screenContributions(
  state: RoundState,
  frames: readonly CountedFrame[],
  expected: FrameExpectation,
  layout: ParamLayout,
  outer: OuterSettings,
  validate: (weights: Float32Array) => number,
  baseLoss: number,
): Screening {
  const improvement = new Map<string, number>();
  for (const frame of frames) {
    const alone = roundUpdate(state.weights, state.momentum, [frame], expected, layout, outer);
    const loss = alone.ok ? validate(shortStep(state.weights, alone.weights)) : Number.POSITIVE_INFINITY;
    improvement.set(frame.peer, Number.isFinite(loss) ? baseLoss - loss : Number.NEGATIVE_INFINITY);
  }
  // Noise of 1e-7 can score +1e-8 by chance: a step must lower the loss by a measurable amount.
  const floor = MIN_RELATIVE_IMPROVEMENT * Math.abs(baseLoss);
  const kept = frames.filter((f) => (improvement.get(f.peer) ?? 0) > floor);
  return { kept: kept.length > 0 ? kept : frames, improvement };
}

/** θ_r + SCORE_STEP × (θ' − θ_r): the first stretch of the step from θ_r to θ'. */
function shortStep(from: Float32Array, to: Float32Array): Float32Array {
  const out = new Float32Array(from.length);
  for (let i = 0; i < from.length; i++)
    out[i] = (from[i] as number) + SCORE_STEP * ((to[i] as number) - (from[i] as number));
  return out;
}
