// The swarm benchmark's table: one row per method, bytes sent per peer over the whole run.

export interface SwarmRow {
  readonly method: string;
  readonly bytesPerPeer: number;
  /** DDP's bytes per peer over this method's. */
  readonly reduction: number;
  readonly valLoss: number;
  /** (valLoss − DDP's) / DDP's, in percent. */
  readonly gapPercent: number;
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

export function printTable(say: (line: string) => void, rows: readonly SwarmRow[], tokens: number): void {
  const width = Math.max(...rows.map((r) => r.method.length), 6) + 2;
  say(`\nall methods trained on ${tokens.toLocaleString('en')} tokens`);
  say(
    `${'method'.padEnd(width)}${'bytes/peer'.padStart(12)}${'reduction'.padStart(12)}${'val loss'.padStart(10)}${'gap'.padStart(9)}`,
  );
  for (const row of rows) {
    say(
      `${row.method.padEnd(width)}${formatBytes(row.bytesPerPeer).padStart(12)}${`${row.reduction.toFixed(row.reduction < 10 ? 2 : 0)}x`.padStart(12)}` +
        `${row.valLoss.toFixed(4).padStart(10)}${`${row.gapPercent >= 0 ? '+' : ''}${row.gapPercent.toFixed(2)}%`.padStart(9)}`,
    );
  }
}
