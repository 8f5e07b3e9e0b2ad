// The round and step charts' x-axis, drawn by uPlot in Chromium: whole-number ticks only.
// uPlot's default axis ticked rounds 1 to 3 at 1, 1.2, 1.4, … (issue 17).
import uPlot from 'uplot';
import { expect, it } from 'vitest';
import { wholeNumberAxis } from '../../web/src/volunteer/charts.ts';

/** The x ticks uPlot draws for rounds `xs` on a 640-pixel chart, read through `values`. */
async function ticksFor(xs: number[]): Promise<number[]> {
  let ticks: number[] = [];
  const element = document.createElement('div');
  document.body.append(element);
  const axis: uPlot.Axis = {
    ...wholeNumberAxis('round'),
    values: (_u, splits) => {
      ticks = splits;
      return splits.map(String);
    },
  };
  const plot = new uPlot(
    { width: 640, height: 200, scales: { x: { time: false } }, axes: [axis, {}], series: [{}, {}] },
    [xs, xs.map((x) => 3 - x / 10)],
    element,
  );
  await new Promise((resolve) => requestAnimationFrame(resolve));
  plot.destroy();
  element.remove();
  return ticks;
}

it('ticks a chart of a few rounds at whole rounds only', async () => {
  expect(await ticksFor([1, 2, 3])).toEqual([1, 2, 3]);
  expect(await ticksFor([0, 1])).toEqual([0, 1]);
  expect(await ticksFor([3, 4, 5, 6, 7, 8])).toEqual([3, 4, 5, 6, 7, 8]);
});

it('spaces the ticks of a long run out, still at whole rounds', async () => {
  const ticks = await ticksFor(Array.from({ length: 45 }, (_, round) => round));
  expect(ticks.length).toBeGreaterThan(2);
  for (const tick of ticks) expect(tick % 5).toBe(0);
});
