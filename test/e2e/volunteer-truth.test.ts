// The volunteer's view tells the truth (issue 17), read off the page in Chromium beside a
// headless Node volunteer: a paused tab reads "paused" with no speed; at "GPU use 30%" the
// delivered tokens/s falls to about a third of the speed while working, both shown; a tab
// closed mid-round tells the relay at once (pagehide → `leave`), even over a path that loses
// the socket's close, so the round goes on without it long before its deadline; a browser without WebGPU, or whose WebGPU finds no GPU, is told
// in plain words what works and where to check. Screenshots land in test/e2e/screenshots/.
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RelayHandle } from '../../relay/server.ts';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';
import { type NodeVolunteer, startNodeVolunteer } from '../../web/node/node-volunteer.ts';
import { buildPages } from '../helpers/built-pages.ts';
import { nodeContext } from '../helpers/node-context.ts';
import { type SilentCloseProxy, silentCloseProxy } from '../helpers/silent-close-proxy.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';
import { memoryTuneCache } from '../helpers/tune-cache-memory.ts';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
const MODEL = { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 1, nHead: 2 };
/** Far past any wait below: a round that ends sooner did not wait out its deadline. */
const DEADLINE_MS = 600_000;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let relay: RelayHandle;
let pageUrl = '';
let proxy: SilentCloseProxy | undefined;
const browsers: Browser[] = [];
let node: NodeVolunteer | undefined;
const roundLog: string[] = [];
const note = (fields: object, message?: string) =>
  roundLog.push(`${message ?? ''} ${JSON.stringify(fields)}`);
const relayLog = { debug: () => {}, info: note, warn: note, error: note };

beforeAll(async () => {
  const webDir = await buildPages();
  relay = await startTestRelay(await smallDataset(8), {
    webDir,
    log: relayLog,
    overrides: {
      model: MODEL,
      inner: { batchSize: 4, seqLen: 32, learningRate: 1e-2, warmupRounds: 0 },
      round: { innerSteps: 40 },
      // Every member's frame is needed (quorum 1, no grace): a member that vanished without a
      // word would hold the round to its deadline, ten minutes off.
      schedule: {
        minPeers: 2,
        gatherMs: 1_000,
        minRoundMs: DEADLINE_MS,
        maxRoundMs: DEADLINE_MS,
        quorum: 1,
        graceMs: DEADLINE_MS,
      },
    },
  });
  pageUrl = relay.url.replace('127.0.0.1', 'localhost'); // WebGPU wants a secure context: localhost
  await mkdir(SCREENSHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  process.stdout.write(`relay log:\n${roundLog.filter((l) => l.includes('round')).join('\n')}\n`);
  await Promise.all(browsers.map((b) => b.close().catch(() => undefined)));
  await node?.stop();
  await proxy?.close();
  await relay?.close();
});

const text = (page: Page, selector: string) => page.textContent(selector).then((t) => t ?? '');
const figure = async (page: Page, selector: string) => Number((await text(page, selector)).replace(/,/g, ''));

async function newPage(args: readonly string[]): Promise<Page> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...args] });
  browsers.push(browser);
  return browser.newPage({ viewport: { width: 900, height: 1200 } });
}

it('a tab shows the speed it delivers, says when it is paused, and tells the relay when it closes', async () => {
  // The tab reaches the relay through a proxy that loses its socket's close (see the helper):
  // only its `leave` can tell the relay it went.
  proxy = await silentCloseProxy(Number(new URL(relay.url).port));
  const page = await newPage(CHROMIUM_WEBGPU_ARGS);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${proxy.url}/`);
  await expect.poll(() => text(page, '#gpu'), { timeout: 60_000 }).toMatch(/^GPU: /);
  const key = await text(page, '#peer-id');
  await page.click('#donate');
  node = await startNodeVolunteer({
    relay: relay.url,
    name: 'server-gpu',
    stateDir: await mkdtemp(join(tmpdir(), 'potluck-node-')),
    ctx: await nodeContext(),
    tuneCache: memoryTuneCache(),
  });

  // Donating: training, with both speeds shown.
  await expect
    .poll(() => text(page, '#phase'), { timeout: 300_000, interval: 500 })
    .toMatch(/^training \d+\/\d+$/);
  await expect.poll(() => figure(page, '#speed'), { timeout: 30_000 }).toBeGreaterThan(0);
  expect(await figure(page, '#speed-working')).toBeGreaterThan(0);
  await page.screenshot({ path: `${SCREENSHOTS}volunteer-donating.png`, fullPage: true });

  // Throttled to 30%: the steps are as fast as ever, but the tab trains about a third as many
  // tokens per second. The page shows the delivered figure first, the working one beside it.
  await page.locator('#throttle').fill('30');
  expect(await text(page, '#throttle-value')).toBe('30%');
  await expect
    .poll(
      async () => {
        const delivered = await figure(page, '#speed');
        const working = await figure(page, '#speed-working');
        process.stdout.write(`throttled: delivered ${delivered} tokens/s, working ${working} tokens/s\n`);
        return working > 0 && delivered > 0 && delivered < 0.45 * working;
      },
      { timeout: 120_000, interval: 2_000 },
    )
    .toBe(true);
  await page.screenshot({ path: `${SCREENSHOTS}volunteer-throttled.png`, fullPage: true });
  await page.locator('#throttle').fill('100');

  // Paused: "paused", no speed, and it stays so while the rest of the run goes on.
  await expect.poll(() => text(page, '#phase'), { timeout: 300_000, interval: 500 }).toMatch(/^training /);
  await page.click('#pause');
  expect(await text(page, '#phase')).toBe('paused');
  expect(await text(page, '#speed')).toBe('—');
  expect(await text(page, '#speed-working')).toBe('—');
  await page.waitForTimeout(4_000);
  expect(await text(page, '#phase')).toBe('paused');
  expect(await text(page, '#speed')).toBe('—');
  await page.screenshot({ path: `${SCREENSHOTS}volunteer-paused.png`, fullPage: true });
  await page.click('#pause');
  await expect.poll(() => text(page, '#phase'), { timeout: 120_000, interval: 500 }).not.toBe('paused');

  // Closed mid-round: the relay hears at once and the round goes on without the tab, though
  // it needs every member's frame and its deadline is ten minutes off. (Rounds of this small
  // model train for a second or two: the relay's view of the round is polled, not the page's.)
  let closing = -1;
  await expect
    .poll(
      () => {
        const open = relay.run.coordinator.roundInProgress;
        closing = open?.round ?? -1;
        return open?.phase === 'training' && open.members === 2;
      },
      { timeout: 300_000, interval: 50 },
    )
    .toBe(true);
  process.stdout.write(`closing the tab while its page reads "${await text(page, '#phase')}"\n`);
  expect(problems).toEqual([]);
  await page.close({ runBeforeUnload: true });
  // Sooner than the relay's ping (every 30 s) could find the socket dead.
  await expect.poll(() => relay.run.coordinator.connectedPeers, { timeout: 10_000, interval: 200 }).toBe(1);
  await expect
    .poll(() => relay.run.coordinator.lastCommitted.round, { timeout: 180_000, interval: 500 })
    .toBeGreaterThanOrEqual(closing);
  // The round ended on its frames, not its deadline: nothing was waited out.
  expect(roundLog.filter((line) => line.includes(key) && /deadline|timed out/.test(line))).toEqual([]);
}, 900_000);

it('a browser without WebGPU is told, in plain words, which browsers can train and where to check', async () => {
  // No navigator.gpu at all (an older browser, Firefox on Linux).
  const noApi = await newPage(CHROMIUM_WEBGPU_ARGS);
  await noApi.addInitScript(() => {
    delete (Navigator.prototype as { gpu?: unknown }).gpu;
  });
  await noApi.goto(`${pageUrl}/`);
  await expect
    .poll(() => noApi.getAttribute('#status', 'data-no-webgpu'), { timeout: 60_000 })
    .toBe('no-api');
  const said = await text(noApi, '#status');
  expect(said).toMatch(/does not offer WebGPU/);
  expect(said).toMatch(/Chrome or Edge 113/);
  expect(said).toMatch(/Safari 26/);
  expect(said).toMatch(/Firefox 141/);
  expect(said).not.toMatch(/ERR_/);
  expect(await noApi.getAttribute('#status a', 'href')).toMatch(/^https:\/\/webgpureport\.org/);
  expect(await noApi.isDisabled('#donate')).toBe(true);
  await noApi.screenshot({ path: `${SCREENSHOTS}volunteer-no-webgpu.png`, fullPage: true });

  // WebGPU there, but no adapter: Chromium on Linux without the unsafe-WebGPU switch.
  const noAdapter = await newPage(['--no-sandbox', '--disable-gpu', '--disable-background-networking']);
  await noAdapter.goto(`${pageUrl}/`);
  await expect
    .poll(() => noAdapter.getAttribute('#status', 'data-no-webgpu'), { timeout: 60_000 })
    .toBe('no-adapter');
  const told = await text(noAdapter, '#status');
  process.stdout.write(`without an adapter the page says: ${told}\n`);
  expect(told).toMatch(/offers WebGPU but found no GPU/);
  expect(told).not.toMatch(/ERR_/);
  expect(told).toMatch(/Unsafe WebGPU/);
  expect(await noAdapter.getAttribute('#status a', 'href')).toMatch(/^https:\/\/webgpureport\.org/);
  await noAdapter.screenshot({ path: `${SCREENSHOTS}volunteer-no-adapter.png`, fullPage: true });
}, 300_000);
