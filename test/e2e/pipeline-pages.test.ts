// Pipeline parallelism in the product: the relay serves the built page for a pipeline run, and
// three volunteer pages, each in its own Chromium process, press "Donate my GPU". The relay cuts
// the model into two stages over them (one stage gets a replica); microbatches cross between the
// tabs over WebRTC as int8 frames, quantized in each tab's worker on WebGPU. The loss of the
// committed steps goes down, each page shows its stage, and killing the replica's browser
// mid-step does not stall training: the step re-runs on the two tabs left. A screenshot of a
// stage's page lands in test/e2e/screenshots/ for a person to look at.
import { mkdir } from 'node:fs/promises';
import { type Browser, chromium, type Page } from 'playwright';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RelayHandle } from '../../relay/server.ts';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';
import { buildPages } from '../helpers/built-pages.ts';
import { lossEnds, pipelineCoordinator } from '../helpers/pipeline-run.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;

let relay: RelayHandle;
let pageUrl = '';
const tabs: { browser: Browser; page: Page; key: string; problems: string[] }[] = [];

beforeAll(async () => {
  const webDir = await buildPages();
  relay = await startTestRelay(await smallDataset(8), {
    webDir,
    overrides: {
      model: { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 2, nHead: 2 },
      inner: { batchSize: 8, seqLen: 32 },
      pipeline: {
        stages: 2,
        microbatches: 4,
        microbatchSize: 2,
        forward: 'int8',
        backward: 'int8',
        blockSize: 128,
        learningRate: 1e-2, // the tiny model's loss must fall within a few steps
        warmupSteps: 0,
        stepMs: 60_000,
      },
      schedule: { minPeers: 3, gatherMs: 1_000 },
    },
  });
  pageUrl = relay.url.replace('127.0.0.1', 'localhost'); // WebGPU wants a secure context
  await mkdir(SCREENSHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await Promise.all(tabs.map((t) => t.browser.close().catch(() => undefined)));
  await relay?.close();
});

const coordinator = () => pipelineCoordinator(relay);

const text = (page: Page, selector: string) => page.textContent(selector).then((t) => t ?? '');

async function openTab(): Promise<(typeof tabs)[number]> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_WEBGPU_ARGS,
  });
  const page = await browser.newPage({ viewport: { width: 900, height: 1400 } });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${pageUrl}/`);
  await expect.poll(() => text(page, '#gpu'), { timeout: 60_000 }).toMatch(/^GPU: /);
  const key = await text(page, '#peer-id');
  await page.click('#donate');
  const tab = { browser, page, key, problems };
  tabs.push(tab);
  return tab;
}

it('a model split over two pages and a stage replica trains; killing the replica does not stall it', async () => {
  for (let i = 0; i < 3; i++) await openTab();
  await expect
    .poll(() => coordinator().lastCommitted.round, { timeout: 240_000, interval: 500 })
    .toBeGreaterThanOrEqual(7);
  const seating = coordinator().stages ?? [];
  expect(seating.map((ids) => ids.length).sort()).toEqual([1, 2]);
  for (const tab of tabs) {
    const stage = seating.findIndex((ids) => ids.includes(tab.key));
    await expect
      .poll(() => text(tab.page, '#phase'), { timeout: 30_000 })
      .toContain(`stage ${stage + 1} of 2`);
    expect(tab.problems).toEqual([]);
  }
  const last = tabs.find((t) => seating[1]?.includes(t.key)) as (typeof tabs)[number];
  await expect.poll(() => text(last.page, '#loss-now'), { timeout: 30_000 }).toMatch(/^\d/);
  await last.page.screenshot({ path: `${SCREENSHOTS}pipeline-page.png`, fullPage: true });

  // Kill the replica's whole browser while a step is under way.
  const replicated = seating.find((ids) => ids.length === 2) ?? [];
  const victim = tabs.find((t) => t.key === replicated[1]);
  if (!victim) throw new Error('no replica to kill');
  // Kill it while its page says it is working through microbatches.
  await expect
    .poll(() => text(victim.page, '#phase'), { timeout: 60_000, interval: 10 })
    .toMatch(/microbatches$/);
  const before = coordinator().lastCommitted.round;
  const abortedBefore = coordinator().abortedSteps;
  await victim.browser.close();
  await expect
    .poll(() => coordinator().lastCommitted.round, { timeout: 120_000, interval: 500 })
    .toBeGreaterThanOrEqual(before + 3);
  expect(coordinator().stages?.flat()).not.toContain(victim.key);
  // Most often the kill lands mid-step and that step re-runs; the tab may have just finished.
  process.stdout.write(`steps aborted by the kill: ${coordinator().abortedSteps - abortedBefore}\n`);

  const losses = await lossEnds(relay);
  process.stdout.write(
    `pipeline pages, train loss by step: ${losses.all.map((l) => l.toFixed(3)).join(' ')}\n`,
  );
  expect(losses.last).toBeLessThan(losses.first - 1);
  // The survivors hold receipts for their stage's work.
  for (const tab of tabs.filter((t) => t !== victim))
    await expect.poll(() => text(tab.page, '#receipts'), { timeout: 30_000 }).not.toBe('0');
}, 480_000);
