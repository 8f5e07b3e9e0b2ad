// The learning-rate schedule every trainer follows: linear warmup, then cosine decay to a floor
// (nanoGPT's get_lr). `t` counts optimizer steps for the train command and rounds for a run's
// volunteers (the relay computes the round's rate and sends it with the work).

export interface LearningRateSchedule {
  /** Peak rate, reached when the warmup ends. */
  readonly learningRate: number;
  /** The cosine ends at learningRate * minLrRatio. */
  readonly minLrRatio: number;
  /** Steps (or rounds) of linear warmup. */
  readonly warmup: number;
  /** The step (or round) at which the cosine reaches its floor. */
  readonly total: number;
  /**
   * How the warmup ramp is counted: 'to-peak' climbs lr/warmup, 2·lr/warmup, ... and reaches the
   * peak on the ramp's last step (the train command's convention); 'below-peak' climbs
   * lr/(warmup+1), ... and reaches the peak on the first step of the decay (nanoGPT's current
   * get_lr, which run configs follow). Kept apart so neither's losses move.
   */
  readonly ramp: 'to-peak' | 'below-peak';
}

/** The learning rate of 0-based step (or round) `t`. */
export function learningRateAt(t: number, s: LearningRateSchedule): number {
  const minLr = s.learningRate * s.minLrRatio;
  if (t < s.warmup) return (s.learningRate * (t + 1)) / (s.ramp === 'to-peak' ? s.warmup : s.warmup + 1);
  const decay = Math.max(1, s.total - s.warmup);
  const progress = Math.min(1, (t - s.warmup) / decay);
  return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (s.learningRate - minLr);
}
