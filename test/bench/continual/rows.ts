// The table's rows: each method's losses averaged over seeds, its gap to re-training on A and
// on B (the mean of each seed's gap), and its compute against re-training's (compute.ts).
import { computeRatio } from './compute.ts';
import { type MethodResult, RETRAIN } from './methods.ts';

export interface ContinualRow {
  readonly method: string;
  readonly valLossA: number;
  readonly valLossB: number;
  readonly computeRatio: number;
  /** (valLoss − re-training's) / re-training's, in percent. */
  readonly gapPercentA: number;
  readonly gapPercentB: number;
}

export function continualRows(seeds: readonly (readonly MethodResult[])[]): ContinualRow[] {
  const first = seeds[0];
  if (!first) throw new RangeError('no seed ran');
  const mean = (f: (rows: readonly MethodResult[]) => number) =>
    seeds.reduce((s, rows) => s + f(rows), 0) / seeds.length;
  const find = (rows: readonly MethodResult[], method: string) => {
    const row = rows.find((r) => r.method === method);
    if (!row) throw new RangeError(`no ${method} row`);
    return row;
  };
  const gap = (loss: number, baseline: number) => (100 * (loss - baseline)) / baseline;
  return first.map(({ method }) => ({
    method,
    valLossA: mean((rows) => find(rows, method).valLossA),
    valLossB: mean((rows) => find(rows, method).valLossB),
    computeRatio: mean((rows) => computeRatio(find(rows, method).phases, find(rows, RETRAIN).phases)),
    gapPercentA: mean((rows) => gap(find(rows, method).valLossA, find(rows, RETRAIN).valLossA)),
    gapPercentB: mean((rows) => gap(find(rows, method).valLossB, find(rows, RETRAIN).valLossB)),
  }));
}

/** Whether a row meets the issue's goal: within 1% of re-training on A and B at ≤ 60% of its compute. */
export function meetsGoal(row: ContinualRow): boolean {
  return row.method !== RETRAIN && row.gapPercentA <= 1 && row.gapPercentB <= 1 && row.computeRatio <= 0.6;
}

const percent = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)}%`;

export function printContinualTable(say: (line: string) => void, rows: readonly ContinualRow[]): void {
  const width = Math.max(...rows.map((r) => r.method.length), 6) + 2;
  say(
    `${'method'.padEnd(width)}${'val loss A'.padStart(11)}${'val loss B'.padStart(11)}${'compute'.padStart(9)}` +
      `${'gap A'.padStart(9)}${'gap B'.padStart(9)}${'goal'.padStart(6)}`,
  );
  for (const row of rows) {
    say(
      `${row.method.padEnd(width)}${row.valLossA.toFixed(4).padStart(11)}${row.valLossB.toFixed(4).padStart(11)}` +
        `${`${(row.computeRatio * 100).toFixed(0)}%`.padStart(9)}${percent(row.gapPercentA).padStart(9)}` +
        `${percent(row.gapPercentB).padStart(9)}${(meetsGoal(row) ? 'yes' : '').padStart(6)}`,
    );
  }
}
