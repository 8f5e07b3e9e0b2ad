// The run's validation loss on each dataset of its mixture (protocol/data-mixture.ts), one line
// per dataset, labelled in the legend with the dataset's name and share: a continual run shows
// here what it forgets of the old data while it learns the new. A run on one dataset has its
// one curve in the chart above, so this one stays hidden. Redrawn only when a round was added.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { DatasetLossPoint, DatasetStatus } from '../../../protocol/run-api.ts';
import { wholeNumberAxis } from '../volunteer/charts.ts';

/** One colour per dataset, in the mixture's order (a mixture has at most 8). */
const COLOURS = ['#2f6f4f', '#b5522b', '#3b5ba5', '#8a6d1f', '#7d3c8c', '#2d7f8c', '#a33b5c', '#555555'];

/** How a dataset is named in the legend: its folder's last part, and its share in percent. */
export function datasetLabel(status: DatasetStatus): string {
  const name =
    status.dataset
      .replace(/[/\\]+$/, '')
      .split(/[/\\]/)
      .at(-1) || status.dataset;
  return `${name} (${+(status.share * 100).toFixed(1)}%)`;
}

export class DatasetLossChart {
  private plot: uPlot | null = null;
  private labels = '';
  private shown = '';

  constructor(
    /** Shown only for a mixture of two or more datasets. */
    private readonly section: HTMLElement,
    private readonly element: HTMLElement,
  ) {}

  show(datasets: readonly DatasetStatus[], points: readonly DatasetLossPoint[]): void {
    this.section.hidden = datasets.length < 2;
    if (this.section.hidden) return;
    const labels = datasets.map(datasetLabel);
    const key = `${labels.join('|')}|${points.length}|${points.at(-1)?.round}`;
    if (key === this.shown) return;
    this.shown = key;
    if (labels.join('|') !== this.labels) this.build(labels);
    const rounds = points.map((p) => p.round);
    const lines = labels.map((_, d) => points.map((p) => p.valLoss[d] ?? null));
    this.plot?.setData([rounds, ...lines]);
    this.element.dataset.rounds = String(rounds.length); // what a reader (or a test) can check
  }

  private build(labels: readonly string[]): void {
    this.plot?.destroy();
    this.labels = labels.join('|');
    this.element.dataset.series = labels.join('\n');
    this.plot = new uPlot(
      {
        width: Math.max(320, this.element.clientWidth || 640),
        height: 220,
        scales: {
          x: { time: false, range: (_u, min, max) => (min === max ? [min - 1, max + 1] : [min, max]) },
        },
        axes: [wholeNumberAxis('round'), { label: 'validation loss' }],
        series: [
          {},
          ...labels.map((label, d) => ({
            label,
            stroke: COLOURS[d % COLOURS.length],
            width: 2,
            spanGaps: true,
          })),
        ],
        legend: { show: true, live: false },
      },
      [[], ...labels.map(() => [])],
      this.element,
    );
  }
}
