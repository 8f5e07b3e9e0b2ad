// The byzantine benchmark's table: one row per attack, number of attackers and rule. The model
// columns (validation loss, gap, rollbacks) say what the attack did to the run; the credit
// columns what it earned (credit-book.ts).

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
  /** Attackers' share of all verified credit, 0 to 1. */
  readonly attackerCreditShare: number;
  /** Attackers' credit neither verified nor forfeited at the end (tokens). */
  readonly attackerProvisional: number;
  /** Honest credit (verified or provisional) lost against the reference run, in percent. */
  readonly honestCreditLossPercent: number;
  /** Identities banned, and of those honest ones (false positives). */
  readonly bans: number;
  readonly honestBans: number;
  /** Credited tokens the relay redid to check them, in percent. */
  readonly checkedPercent: number;
}

export function formatRow(row: ByzantineRow, widths: { attack: number; aggregation: number }): string {
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}%`;
  const bans = row.honestBans > 0 ? `${row.bans} (${row.honestBans} honest)` : String(row.bans);
  return (
    `${row.attack.padEnd(widths.attack)}${String(row.attackers).padStart(4)}${String(row.peers).padStart(6)}  ` +
    `${row.aggregation.padEnd(widths.aggregation)}${row.valLoss.toFixed(4).padStart(9)}${signed(row.gapPercent).padStart(10)}` +
    `${String(row.rolledBack).padStart(6)}${String(row.aborted).padStart(6)}` +
    `${row.attackerCreditShare.toFixed(3).padStart(11)}${String(row.attackerProvisional).padStart(10)}` +
    `${signed(row.honestCreditLossPercent).padStart(10)}${bans.padStart(8)}${`${row.checkedPercent.toFixed(0)}%`.padStart(9)}  ${row.against}`
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
      `${'val loss'.padStart(9)}${'gap'.padStart(10)}${'rb'.padStart(6)}${'abort'.padStart(6)}` +
      `${'atk share'.padStart(11)}${'atk prov'.padStart(10)}${'honest -'.padStart(10)}${'bans'.padStart(8)}${'checked'.padStart(9)}  against`,
  );
  for (const row of rows) say(formatRow(row, widths));
}
