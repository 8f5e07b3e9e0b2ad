// The byzantine benchmark's table: one row per attack, number of attackers and rule.

export interface ByzantineRow {
  /** "none" for the clean runs. */
  readonly attack: string;
  readonly attackers: number;
  /** Members of each round, attackers included. */
  readonly peers: number;
  /** The relay's rule, and whether its guard was on. */
  readonly aggregation: string;
  readonly valLoss: number;
  /** Against the reference run named in `against`, in percent. */
  readonly gapPercent: number;
  readonly against: string;
  readonly rolledBack: number;
  readonly aborted: number;
}

export function formatRow(row: ByzantineRow, widths: { attack: number; aggregation: number }): string {
  const gap = `${row.gapPercent >= 0 ? '+' : ''}${row.gapPercent.toFixed(2)}%`;
  return (
    `${row.attack.padEnd(widths.attack)}${String(row.attackers).padStart(4)}${String(row.peers).padStart(6)}  ` +
    `${row.aggregation.padEnd(widths.aggregation)}${row.valLoss.toFixed(4).padStart(9)}${gap.padStart(10)}` +
    `${String(row.rolledBack).padStart(6)}${String(row.aborted).padStart(6)}  ${row.against}`
  );
}

export function printTable(say: (line: string) => void, rows: readonly ByzantineRow[]): void {
  const widths = {
    attack: Math.max(6, ...rows.map((r) => r.attack.length)) + 2,
    aggregation: Math.max(11, ...rows.map((r) => r.aggregation.length)) + 2,
  };
  say('');
  say(
    `${'attack'.padEnd(widths.attack)}${'f'.padStart(4)}${'n'.padStart(6)}  ${'aggregation'.padEnd(widths.aggregation)}` +
      `${'val loss'.padStart(9)}${'gap'.padStart(10)}${'rb'.padStart(6)}${'abort'.padStart(6)}  gap against`,
  );
  for (const row of rows) say(formatRow(row, widths));
}
