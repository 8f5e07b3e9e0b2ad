// The leaderboard of a run on a mixture (protocol/data-mixture.ts), end to end with no GPU: a
// scripted volunteer trains on a real relay whose run mixes two datasets, the relay scores each
// committed state on both, and headless Chromium draws one labelled line per dataset, fed by
// the same /api/runs/:id the test reads. A screenshot lands in test/e2e/screenshots/.
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readBrownCorpus } from '../../relay/datasets/brown.ts';
import { prepareDataset } from '../../relay/datasets/prepare.ts';
import type { RelayHandle } from '../../relay/server.ts';
import { buildPages } from '../helpers/built-pages.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { type ScriptedVolunteer, startScriptedVolunteer } from '../helpers/scripted-volunteer.ts';
import { startTestRelay } from '../helpers/test-relay.ts';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;

let relay: RelayHandle;
let browser: Browser;
let volunteer: ScriptedVolunteer | null = null;

/** Six Brown documents of one genre, prepared into a folder named after it. */
async function genre(letter: string, name: string): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'potluck-mix-')), name);
  const documents = readBrownCorpus(undefined, [letter]).slice(0, 6);
  await prepareDataset({ documents, source: { kind: 'files', files: [name] }, outDir: dir, valEvery: 3 });
  return dir;
}

beforeAll(async () => {
  const webDir = await buildPages();
  const [fiction, press] = [await genre('k', 'fiction'), await genre('a', 'press')];
  relay = await startTestRelay(fiction, {
    webDir,
    overrides: {
      dataset: [
        { dataset: fiction, weight: 0.95 },
        { dataset: press, weight: 0.05 },
      ],
      guard: { validationSequences: 2 },
    },
  });
  await mkdir(SCREENSHOTS, { recursive: true });
  browser = await launchChromium();
  volunteer = await startScriptedVolunteer(relay.url, 'alice', { trainMs: 250 });
  await volunteer.commits(3);
}, 180_000);

afterAll(async () => {
  volunteer?.close();
  await browser?.close();
  await relay?.close();
});

it('draws one labelled line per dataset of the mixture', async () => {
  const page = await browser.newPage({ viewport: { width: 900, height: 1800 } });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${relay.url.replace('127.0.0.1', 'localhost')}/leaderboard`);
  const chart = page.locator('#dataset-loss-chart');
  await expect.poll(() => page.locator('#dataset-loss').isVisible(), { timeout: 30_000 }).toBe(true);
  // uPlot's legend: one row per line, labelled with the dataset's name and share.
  const legend = chart.locator('.u-legend .u-series');
  await expect
    .poll(async () => (await legend.allTextContents()).map((t) => t.trim()), { timeout: 30_000 })
    .toEqual(['fiction (95%)', 'press (5%)']);
  expect(await chart.evaluate((el) => el.dataset.series?.split('\n'))).toEqual([
    'fiction (95%)',
    'press (5%)',
  ]);
  // The lines hold the relay's per-dataset losses: a point for every round it scored.
  const scored = async () => {
    const detail = (await (await relay.app.request(`/api/runs/${relay.run.id}`)).json()) as {
      datasetLoss: unknown[];
    };
    return detail.datasetLoss.length;
  };
  expect(await scored()).toBeGreaterThanOrEqual(2);
  await expect
    .poll(
      async () =>
        Number(await chart.getAttribute('data-rounds')) >= 2 &&
        Number(await chart.getAttribute('data-rounds')) <= (await scored()),
      { timeout: 30_000 },
    )
    .toBe(true);
  await page.locator('#dataset-loss').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SCREENSHOTS}leaderboard-mixture.png`, fullPage: true });
  expect(problems).toEqual([]);
});
