// Loss spikes in a run's train losses, step by step. A spike is a step whose loss is more than
// SPIKE_RATIO times the lowest loss of the steps before it: the real pipeline run the README
// reports went from 3.42 to 8.98 at step 7 (2.6x) when stages did not clip by the whole model's
// norm, where losses of different batches of one run differ by some percent. Beside the count,
// the largest rise from one step to the next and the worst ratio to the running minimum, to show
// how far a run without spikes stayed from one.

/** A loss this many times the lowest before it is a spike. */
export const SPIKE_RATIO = 1.5;

export interface LossSpikes {
  /** Steps whose loss exceeded SPIKE_RATIO times the lowest loss of the steps before. */
  readonly spikes: number;
  /** The largest loss[t] − loss[t − 1]; 0 when the loss never rose. */
  readonly maxRise: number;
  /** The largest loss[t] / min(loss[0..t)); 1 or less when no step rose above its best. */
  readonly worstRatio: number;
  /** The 1-based step of the first spike (where to look for its cause); null without one. */
  readonly firstSpike: number | null;
}

export function lossSpikes(losses: readonly number[], ratio = SPIKE_RATIO): LossSpikes {
  let spikes = 0;
  let maxRise = 0;
  let worstRatio = 0;
  let lowest = Number.POSITIVE_INFINITY;
  let previous: number | null = null;
  let firstSpike: number | null = null;
  for (const [t, loss] of losses.entries()) {
    if (!Number.isFinite(loss)) throw new RangeError(`a train loss of ${loss} is no loss`);
    if (previous !== null) {
      maxRise = Math.max(maxRise, loss - previous);
      worstRatio = Math.max(worstRatio, loss / lowest);
      if (loss > ratio * lowest) {
        spikes++;
        firstSpike ??= t + 1;
      }
    }
    lowest = Math.min(lowest, loss);
    previous = loss;
  }
  return { spikes, maxRise, worstRatio, firstSpike };
}
