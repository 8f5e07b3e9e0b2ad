// The product end to end: the relay serves the built pages (under its real CSP); a volunteer
// page in headless Chromium presses "Donate my GPU" and trains in the same rounds as a
// headless Node volunteer, over WebRTC between the tab and Node. The leaderboard shows both;
// a reload keeps the tab's identity and receipts and resumes donating. Screenshots of both
// pages land in test/e2e/screenshots/ for a person to look at.
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright';
import { build } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryTuneCache } from '../../kernels/gpu/tune-cache-memory.ts';
import type { RelayHandle } from '../../relay/server.ts';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';
import { type NodeVolunteer, startNodeVolunteer } from '../../web/node/node-volunteer.ts';
import { nodeContext } from '../helpers/node-context.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;

let relay: RelayHandle;
let browser: Browser;
let node: NodeVolunteer;
let pageUrl = '';

beforeAll(async () => {
  const webDir = await mkdtemp(join(tmpdir(), 'potluck-pages-'));
  await build({
    configFile: `${ROOT}web/vite.config.ts`,
    build: { outDir: webDir, emptyOutDir: true },
    logLevel: 'warn',
  });
  relay = await startTestRelay(await smallDataset(8), {
    webDir,
    overrides: {
      model: { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 1, nHead: 2 },
      inner: { batchSize: 4, seqLen: 32, learningRate: 1e-2, warmupRounds: 0 },
      round: { innerSteps: 6, compression: { randomK: 0.5, topK: 0.5, bits: 4, blockSize: 64 } },
      schedule: { minPeers: 2, gatherMs: 300, minRoundMs: 40_000, maxRoundMs: 40_000, hashTimeoutMs: 20_000 },
    },
  });
  pageUrl = relay.url.replace('127.0.0.1', 'localhost'); // WebGPU wants a secure context: localhost
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_WEBGPU_ARGS,
  });
  await mkdir(SCREENSHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await node?.stop();
  await relay?.close();
});

const text = (page: Page, selector: string) => page.textContent(selector).then((t) => t ?? '');

it('a browser volunteer and a headless Node volunteer train together, and the leaderboard shows them', async () => {
  const page = await browser.newPage({ viewport: { width: 900, height: 1400 } });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/ICE|candidate/i.test(message.text())) problems.push(message.text());
  });
  await page.goto(`${pageUrl}/`);
  await expect.poll(() => text(page, '#gpu'), { timeout: 60_000 }).toMatch(/^GPU: /);
  const tabKey = await text(page, '#peer-id');
  await page.click('#donate');
  node = await startNodeVolunteer({
    relay: relay.url,
    name: 'server-gpu',
    stateDir: await mkdtemp(join(tmpdir(), 'potluck-node-')),
    ctx: await nodeContext(),
    tuneCache: memoryTuneCache(),
  });
  // Both are credited in the same committed rounds.
  await expect
    .poll(
      async () => {
        const { entries } = (await (await relay.app.request('/api/ledger')).json()) as {
          entries: { peerKey: string; round: number }[];
        };
        const rounds = (key: string) => new Set(entries.filter((e) => e.peerKey === key).map((e) => e.round));
        const shared = [...rounds(tabKey)].filter((r) => rounds(node.peerId).has(r));
        return shared.length;
      },
      { timeout: 400_000, interval: 1_000 },
    )
    .toBeGreaterThanOrEqual(2);
  await expect.poll(() => text(page, '#receipts'), { timeout: 30_000 }).not.toBe('0');
  expect(Number(await text(page, '#credits'))).toBeGreaterThan(0);
  await page.screenshot({ path: `${SCREENSHOTS}volunteer-page.png`, fullPage: true });

  const board = await browser.newPage({ viewport: { width: 900, height: 800 } });
  await board.goto(`${pageUrl}/leaderboard`);
  await expect.poll(() => board.locator('#board tbody tr').count(), { timeout: 30_000 }).toBe(2);
  await board.screenshot({ path: `${SCREENSHOTS}leaderboard.png`, fullPage: true });

  // A reload keeps the identity and the receipts, and resumes donating by itself.
  const receiptsBefore = Number(await text(page, '#receipts'));
  await page.reload();
  await expect.poll(() => text(page, '#peer-id'), { timeout: 30_000 }).toBe(tabKey);
  expect(Number(await text(page, '#receipts'))).toBeGreaterThanOrEqual(receiptsBefore);
  await expect
    .poll(() => text(page, '#status'), { timeout: 60_000 })
    .toMatch(/Joined run|Training|Round|waiting/);
  expect(problems).toEqual([]);
}, 600_000);
