// The swarm benchmark's table: one row per method, bytes sent per peer over the whole run.

export interface SwarmRow {
  readonly method: string;
  readonly bytesPerPeer: number;
  /** DDP's bytes per peer over this method's. */
  readonly reduction: number;
  readonly valLoss: number;
  /** (valLoss − DDP's) / DDP's, in percent: the mean over seeds of each seed's gap. */
  readonly gapPercent: number;
  readonly gapPercentBySeed: readonly number[];
  /** Bits each peer sent per parameter per inner step (DDP: per step). */
  readonly bitsPerParamPerStep: number;
  /** One peer's compute per round (DDP: per step) on this machine. */
  readonly computeSecondsPerRound: number;
  /** That compute plus the round's upload on a 20 Mbit/s uplink (rows.ts). */
  readonly roundSecondsAt20Mbit: number;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 && unit > 0 ? 2 : value < 100 && unit > 0 ? 1 : 0)} ${units[unit]}`;
}

const percent = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)}%`;

export function printTable(
  say: (line: string) => void,
  rows: readonly SwarmRow[],
  tokens: number,
  seeds: readonly number[],
): void {
  const width = Math.max(...rows.map((r) => r.method.length), 6) + 2;
  say(
    `\nall methods trained on ${tokens.toLocaleString('en')} tokens per seed; seeds ${seeds.join(', ')} (loss and gap: means)`,
  );
  say(
    `${'method'.padEnd(width)}${'bytes/peer'.padStart(12)}${'reduction'.padStart(12)}${'bits/param/step'.padStart(17)}` +
      `${'val loss'.padStart(10)}${'gap'.padStart(9)}${'gap by seed'.padStart(26)}${'round: compute / at 20 Mbit/s'.padStart(32)}`,
  );
  for (const row of rows) {
    say(
      `${row.method.padEnd(width)}${formatBytes(row.bytesPerPeer).padStart(12)}${`${row.reduction.toFixed(row.reduction < 10 ? 2 : 0)}x`.padStart(12)}` +
        `${row.bitsPerParamPerStep.toPrecision(3).padStart(17)}${row.valLoss.toFixed(4).padStart(10)}${percent(row.gapPercent).padStart(9)}` +
        `${row.gapPercentBySeed.map(percent).join(' ').padStart(26)}` +
        `${`${row.computeSecondsPerRound.toFixed(2)} s / ${row.roundSecondsAt20Mbit.toFixed(2)} s`.padStart(32)}`,
    );
  }
}
