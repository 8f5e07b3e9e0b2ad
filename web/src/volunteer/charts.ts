// The volunteer page's live charts (uPlot): the loss of this volunteer's inner steps, and the
// run's loss per committed round. Points are appended and the chart redrawn at most once a
// frame.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

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
        // One point has no extent: widen it so the first committed round is drawn too.
        scales: {
          x: { time: false, range: (_u, min, max) => (min === max ? [min - 1, max + 1] : [min, max]) },
        },
        axes: [{ label: xLabel }, { label: yLabel }],
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
