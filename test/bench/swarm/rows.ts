// bench:swarm's rows from what each seed measured: a method's loss gap to DDP is taken per seed
// (both trained from that seed's θ_0 on that seed's batches) and then averaged, so a difference
// smaller than the seeds' spread shows as such. Traffic is also given as bits per parameter per
// inner step, the unit the field reports (SparseLoCo: about 0.22 per sync), and as the round's
// wall time on a modelled 20 Mbit/s uplink beside the compute alone.
import type { SwarmRow } from './table.ts';

/** A volunteer's uplink in the round-time model: a home connection. */
export const MODEL_UPLINK_BITS_PER_SEC = 20e6;

/** One method's measurements with one seed. */
export interface MethodRun {
  readonly method: string;
  /** Bytes each peer sent over the whole run. */
  readonly bytesPerPeer: number;
  readonly valLoss: number;
  /** Synchronizations over the run: DDP's steps, DiLoCo's rounds. */
  readonly syncs: number;
  /** One peer's compute between two syncs, measured on this machine's adapter. */
  readonly computeSecondsPerSync: number;
  /** The next round's compute runs while this round's frames travel (simulate-diloco.ts). */
  readonly overlapped?: boolean;
}

export interface SeedRun {
  readonly seed: number;
  /** DDP first, then the methods in order. */
  readonly runs: readonly MethodRun[];
}

/**
 * Seconds per sync when the peer sends its share at `uplink` bits/s: after its inner steps
 * (compute then send), or, overlapped, during the next round's (whichever is longer).
 */
export function roundSeconds(run: MethodRun, uplink = MODEL_UPLINK_BITS_PER_SEC): number {
  const sending = (8 * run.bytesPerPeer) / run.syncs / uplink;
  return run.overlapped ? Math.max(run.computeSecondsPerSync, sending) : run.computeSecondsPerSync + sending;
}

const mean = (values: readonly number[]) => values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);

export function swarmRows(
  bySeed: readonly SeedRun[],
  shape: { readonly paramCount: number; readonly steps: number },
): SwarmRow[] {
  const first = bySeed[0];
  if (!first) return [];
  return first.runs.map((_, i) => {
    const runs = bySeed.map((s) => s.runs[i] as MethodRun);
    const gaps = bySeed.map((s) => {
      const ddp = (s.runs[0] as MethodRun).valLoss;
      return (100 * ((s.runs[i] as MethodRun).valLoss - ddp)) / ddp;
    });
    const ddpBytes = mean(bySeed.map((s) => (s.runs[0] as MethodRun).bytesPerPeer));
    const bytesPerPeer = mean(runs.map((r) => r.bytesPerPeer));
    const computeSecondsPerRound = mean(runs.map((r) => r.computeSecondsPerSync));
    return {
      method: (runs[0] as MethodRun).method,
      bytesPerPeer,
      reduction: ddpBytes / bytesPerPeer,
      valLoss: mean(runs.map((r) => r.valLoss)),
      gapPercent: mean(gaps),
      gapPercentBySeed: gaps,
      bitsPerParamPerStep: (8 * bytesPerPeer) / (shape.paramCount * shape.steps),
      computeSecondsPerRound,
      roundSecondsAt20Mbit: mean(runs.map((r) => roundSeconds(r))),
    };
  });
}
