// A PeerMesh in real headless Chromium (the simple-peer bundle, the page's WebSocket and
// WebRTC) and one in Node (@roamhq/wrtc) meet through the relay's /signal, authenticate each
// other, and move messages both ways intact. The page is served from http://localhost by Vite.
import { type Browser, chromium, type Page } from 'playwright';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';
import {
  closeAllPeers,
  makePeer,
  type Relay,
  startRelay,
  type TestPeer,
  until,
} from '../unit/mesh/mesh-harness.ts';
import { ACK, pattern, sha256Hex } from './pages/mesh/page-api.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PAGE_ROOT = new URL('./pages/mesh/', import.meta.url).pathname;
const RUN_ID = 'mesh-chromium';
const MiB = 2 ** 20;

let relay: Relay;
let vite: ViteDevServer;
let browser: Browser;
let page: Page;
let node: TestPeer;
let pageKey = '';
const pageErrors: string[] = [];

beforeAll(async () => {
  relay = await startRelay();
  vite = await createServer({
    root: PAGE_ROOT,
    configFile: false,
    // Its own cache: the volunteer page's dev server (demo-page.test.ts) may run at the same time.
    cacheDir: `${ROOT}node_modules/.vite-mesh-e2e`,
    server: { port: 0, host: 'localhost', fs: { allow: [ROOT] } },
    // Bundled up front, so the page does not reload when Vite discovers them on first request.
    optimizeDeps: { include: ['simple-peer/simplepeer.min.js', 'valibot'] },
    logLevel: 'error',
  });
  await vite.listen();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_WEBGPU_ARGS,
  });
  page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(vite.resolvedUrls?.local[0] ?? '');
  await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'ready');
  pageKey = await page.evaluate(([url, runId]) => window.meshPage.start(url, runId), [
    relay.url,
    RUN_ID,
  ] as const);

  node = await makePeer(relay.url, RUN_ID);
  // Acks as the page does: a 1-byte answer to every longer message.
  node.mesh.onMessage((from, message) => {
    if (message.length !== ACK.length) node.mesh.send(from, ACK).catch(() => {});
  });
}, 60_000);

afterAll(async () => {
  await page?.evaluate(() => window.meshPage.destroy()).catch(() => {});
  await browser?.close();
  closeAllPeers();
  await vite?.close();
  await relay?.close();
});

/** Resolves when `node` has received `count` messages of more than one byte from the page. */
function receivedFromPage(count: number): Promise<void> {
  return until(
    () => (node.inbox.get(pageKey) ?? []).filter((m) => m.length > ACK.length).length >= count,
    30_000,
    `${count} messages from the page`,
  );
}

it('connects and authenticates a Chromium page and a Node peer through /signal', async () => {
  node.mesh.connect([pageKey]);
  await page.evaluate(([key]) => window.meshPage.connect(key, 30_000), [node.mesh.id] as const);
  await node.mesh.waitForPeers([pageKey], 30_000);
  expect(node.mesh.connectedPeers).toEqual([pageKey]);
});

it('moves a 1 MiB message each way intact', async () => {
  const toPage = pattern(MiB, 1);
  await node.mesh.send(pageKey, toPage);
  await page.evaluate(([key]) => window.meshPage.sendTimed(key, 2 ** 20, 2), [node.mesh.id] as const);
  await receivedFromPage(1);
  await until(() => (node.inbox.get(pageKey) ?? []).some((m) => m.length === ACK.length), 30_000, 'the ack');

  const pageDigests = await page.evaluate(() => window.meshPage.digests());
  expect(pageDigests).toEqual([await sha256Hex(toPage)]);
  const fromPage = (node.inbox.get(pageKey) ?? []).filter((m) => m.length > ACK.length);
  expect(await sha256Hex(fromPage[0] as Uint8Array)).toBe(await sha256Hex(pattern(MiB, 2)));
  const pageTraffic = await page.evaluate(() => window.meshPage.traffic());
  expect(pageTraffic.refused).toBe(0);
  expect(node.mesh.traffic.refused).toBe(0);
});

it('measures one 5 MiB message Node → Chromium and Chromium → Node (printed, not asserted)', async () => {
  const size = 5 * MiB;
  const message = pattern(size, 3);
  const acks = () => (node.inbox.get(pageKey) ?? []).filter((m) => m.length === ACK.length).length;
  const acksBefore = acks();
  const start = performance.now();
  await node.mesh.send(pageKey, message);
  await until(() => acks() > acksBefore, 30_000, 'the ack of 5 MiB');
  const toPageMs = performance.now() - start;
  const fromPageMs = await page.evaluate(([key, bytes]) => window.meshPage.sendTimed(key, bytes, 4), [
    node.mesh.id,
    size,
  ] as const);
  await receivedFromPage(2);
  const digests = await page.evaluate(() => window.meshPage.digests());
  expect(digests.at(-1)).toBe(await sha256Hex(message));
  const fromPage = (node.inbox.get(pageKey) ?? []).filter((m) => m.length > ACK.length);
  expect(await sha256Hex(fromPage.at(-1) as Uint8Array)).toBe(await sha256Hex(pattern(size, 4)));
  // Chromium lowers bufferedAmount only in tasks, never during our write loop: 5 MiB must
  // cross the 1 MiB high-water mark and wait for bufferedamountlow.
  expect(await page.evaluate(() => window.meshPage.backpressureWaits())).toBeGreaterThan(0);
  const rate = (ms: number) => `${(ms / 1000).toFixed(3)} s, ${(size / MiB / (ms / 1000)).toFixed(1)} MiB/s`;
  console.log(`[mesh] Node → Chromium, one 5 MiB message until its ack: ${rate(toPageMs)}`);
  console.log(`[mesh] Chromium → Node, one 5 MiB message until its ack: ${rate(fromPageMs)}`);
  expect(pageErrors).toEqual([]);
});
