// The volunteer page's live charts (uPlot): the loss of this volunteer's inner steps, and the
// run's loss per committed round (the leaderboard draws the latter too). Both x-axes count
// whole steps or rounds, so they are ticked at whole numbers only. Points are appended and
// the chart redrawn at most once a frame.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/**
 * Tick spacings for an x-axis that counts whole things (inner steps, rounds): 1, 2, 5, 10, 20,
 * 50, … up to 5e9. uPlot's default spacings go down to 1e-16, so a chart of a few rounds was
 * ticked at 0.2, 0.4, … (issue 17).
 */
export const WHOLE_NUMBER_INCRS: readonly number[] = Array.from({ length: 10 }, (_, power) =>
  [1, 2, 5].map((mantissa) => mantissa * 10 ** power),
).flat();

/**
 * The x range of a chart of rounds or steps: the data's, widened when it has no extent (one
 * point, or none) so the first committed round is drawn too, and never below 0, where an empty
 * chart read "-1".
 */
export function roundsRange(min: number, max: number): [number, number] {
  if (min !== max) return [min, max];
  const from = Math.max(0, min - 1);
  return [from, from + 2];
}

/**
 * The ticks uPlot draws on a whole-number axis: every multiple of the spacing it picked within
 * the scale's range. Rounded to whole numbers even if handed a fractional spacing, and none at
 * all when nothing fitted (uPlot passes 0 then).
 */
export function wholeNumberSplits(scaleMin: number, scaleMax: number, foundIncr: number): number[] {
  if (!(foundIncr > 0) || !(scaleMax >= scaleMin)) return [];
  const step = Math.max(1, Math.round(foundIncr));
  const splits: number[] = [];
  // `+ 0` turns a -0 (Math.ceil(-0.5)) into 0, which would otherwise be labelled "-0".
  for (let tick = Math.ceil(scaleMin / step) * step + 0; tick <= scaleMax; tick += step) splits.push(tick);
  return splits;
}

/** An x-axis of whole steps or rounds, labelled `label`. */
export function wholeNumberAxis(label: string): uPlot.Axis {
  return {
    label,
    incrs: [...WHOLE_NUMBER_INCRS],
    splits: (_u, _axis, min, max, incr) => wholeNumberSplits(min, max, incr),
  };
}

export class LiveChart {
  private readonly xs: number[] = [];
  private readonly ys: number[] = [];
  private readonly plot: uPlot;
  private scheduled = false;

  constructor(element: HTMLElement, xLabel: string, yLabel: string, color: string) {
    this.plot = new uPlot(
      {
        width: Math.max(320, element.clientWidth || 640),
        height: 200,
        scales: { x: { time: false, range: (_u, min, max) => roundsRange(min, max) } },
        axes: [wholeNumberAxis(xLabel), { label: yLabel }],
        series: [{}, { label: yLabel, stroke: color, width: 2 }],
        legend: { show: false },
      },
      [[], []],
      element,
    );
  }

  /** Replaces the whole series (the run's curve comes from the relay in one piece). */
  set(xs: readonly number[], ys: readonly number[]): void {
    this.xs.splice(0, this.xs.length, ...xs);
    this.ys.splice(0, this.ys.length, ...ys);
    this.redraw();
  }

  push(x: number, y: number): void {
    this.xs.push(x);
    this.ys.push(y);
    this.redraw();
  }

  private redraw(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.plot.setData([this.xs, this.ys]);
    });
  }
}
