// The pipeline benchmark's table: one row per (stage count, codec setting), after the unsplit
// baseline. Bytes are per token of the run on one boundary's link, frame headers included;
// spikes and the largest rise are of the run's train losses (loss-spikes.ts).

import type { LossSpikes } from './loss-spikes.ts';

export interface PipelineRow extends LossSpikes {
  readonly stages: number;
  /** "forward/backward" codecs, or "unsplit" for the baseline. */
  readonly codec: string;
  readonly bytesPerTokenForward: number;
  readonly bytesPerTokenBackward: number;
  /** fp32 links' bytes over this setting's, both directions together; null for the baseline. */
  readonly reduction: number | null;
  readonly valLoss: number;
  /** (valLoss − the unsplit model's) / the unsplit model's, in percent. */
  readonly gapPercent: number;
}

export function printTable(say: (line: string) => void, rows: readonly PipelineRow[], tokens: number): void {
  const width = Math.max(...rows.map((r) => r.codec.length), 5) + 2;
  say(
    `\nevery row trained on the same ${tokens.toLocaleString('en')} tokens; bytes per token on one boundary`,
  );
  say(
    `${'stages'.padEnd(8)}${'codec'.padEnd(width)}${'fwd B/tok'.padStart(11)}${'bwd B/tok'.padStart(11)}` +
      `${'reduction'.padStart(11)}${'val loss'.padStart(10)}${'gap'.padStart(9)}` +
      `${'spikes'.padStart(8)}${'max rise'.padStart(10)}`,
  );
  for (const row of rows) {
    const reduction = row.reduction === null ? '-' : `${row.reduction.toFixed(2)}x`;
    say(
      `${String(row.stages).padEnd(8)}${row.codec.padEnd(width)}` +
        `${row.bytesPerTokenForward.toFixed(1).padStart(11)}${row.bytesPerTokenBackward.toFixed(1).padStart(11)}` +
        `${reduction.padStart(11)}${row.valLoss.toFixed(4).padStart(10)}` +
        `${`${row.gapPercent >= 0 ? '+' : ''}${row.gapPercent.toFixed(2)}%`.padStart(9)}` +
        `${String(row.spikes).padStart(8)}${row.maxRise.toFixed(3).padStart(10)}`,
    );
  }
}
