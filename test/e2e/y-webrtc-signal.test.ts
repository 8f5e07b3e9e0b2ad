// y-webrtc in two separate headless Chromium processes finds its peer through our /signal
// endpoint and syncs a Y.Map over a real WebRTC data channel: the signal server is a drop-in
// for y-webrtc's own. Two browsers, not two tabs, so BroadcastChannel cannot stand in.

import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright';
import { build, type Rolldown } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { routeUpgrades } from '../../relay/http/upgrade-route.ts';
import type { RelayHandle } from '../../relay/server.ts';
import { createSignalServer, type SignalServer } from '../../relay/signal/index.ts';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';
import { freshClusterDatabase, POSTGRES_URL, stateDirSharingKey } from '../helpers/cluster-database.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';
import type { YWebrtcTestApi } from './pages/y-webrtc/main.ts';

const PAGE_DIR = new URL('./pages/y-webrtc/', import.meta.url).pathname;
const CONTENT_TYPES: Record<string, string> = { html: 'text/html', js: 'text/javascript' };

let signal: SignalServer;
let http: Server;
let origin = '';

/** The page bundled in memory (yjs, y-webrtc and simple-peer's browser build). */
async function bundlePage(): Promise<Map<string, string | Uint8Array>> {
  const result = await build({
    root: PAGE_DIR,
    configFile: false,
    logLevel: 'error',
    build: { write: false, target: 'es2022', minify: false },
  });
  const outputs = (Array.isArray(result) ? result : [result]) as Rolldown.RolldownOutput[];
  const files = new Map<string, string | Uint8Array>();
  for (const item of outputs.flatMap((output) => output.output))
    files.set(`/${item.fileName}`, item.type === 'chunk' ? item.code : item.source);
  return files;
}

beforeAll(async () => {
  const files = await bundlePage();
  signal = createSignalServer();
  http = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const body = files.get(path === '/' ? '/index.html' : path);
    if (body === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, {
      'Content-Type': CONTENT_TYPES[path.split('.').pop() ?? 'html'] ?? 'text/html',
    });
    response.end(body);
  });
  routeUpgrades(http, { '/signal': signal.handleUpgrade });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  origin = `127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await signal?.close();
  http?.closeAllConnections();
  await new Promise((resolve) => http?.close(resolve));
});

type TestWindow = Window & { yWebrtcTest: YWebrtcTestApi };

async function openPeer(
  browser: Browser,
  room: string,
  errors: string[],
  signal = `ws://${origin}/signal`,
): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (error) => errors.push(error.message));
  const signalUrl = encodeURIComponent(signal);
  await page.goto(`http://${origin}/?room=${room}&signal=${signalUrl}`);
  await page.waitForFunction(() => (window as unknown as TestWindow).yWebrtcTest?.signalingConnected());
  return page;
}

/**
 * The two peers, the second opened once the first is subscribed. Opened at once, both can see
 * the other's announce and offer together, and y-webrtc's glare handling then sometimes leaves
 * a connection that reports itself open but carries nothing (seen with relays under load);
 * one after the other, the first offers and the second answers, every time.
 */
async function openInTurn(
  browsers: readonly Browser[],
  open: (browser: Browser, index: number) => Promise<Page>,
): Promise<[Page, Page]> {
  const [first, second] = browsers;
  if (!first || !second) throw new Error('two browsers expected');
  const one = await open(first, 0);
  return [one, await open(second, 1)];
}

it('syncs a Y.Map between two browsers that met through /signal', async () => {
  const launch = () =>
    chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_WEBGPU_ARGS,
    });
  const browsers = await Promise.all([launch(), launch()]);
  try {
    const errors: string[] = [];
    const room = `potluck-e2e-${Date.now()}`;
    const [one, two] = await openInTurn(browsers, (browser) => openPeer(browser, room, errors));
    expect(signal.stats()).toMatchObject({ connections: 2, topics: 1 });
    // Announce, offer, answer and ICE candidates went through /signal; then a data channel.
    for (const page of [one, two])
      await page.waitForFunction(
        () => (window as unknown as TestWindow).yWebrtcTest.webrtcPeers() >= 1,
        undefined,
        {
          timeout: 30_000,
        },
      );

    await one.evaluate(() => (window as unknown as TestWindow).yWebrtcTest.set('from-one', 'hello'));
    await two.waitForFunction(
      () => (window as unknown as TestWindow).yWebrtcTest.get('from-one') === 'hello',
    );
    await two.evaluate(() => (window as unknown as TestWindow).yWebrtcTest.set('from-two', 'hi back'));
    await one.waitForFunction(
      () => (window as unknown as TestWindow).yWebrtcTest.get('from-two') === 'hi back',
    );

    const stats = signal.stats();
    expect(stats.messagesIn).toBeGreaterThanOrEqual(4); // two subscribes, an announce, an offer at least
    expect(stats.refused).toEqual({});
    expect(errors).toEqual([]);
  } finally {
    await Promise.all(browsers.map((browser) => browser.close()));
  }
});

// Several relays serve one run: a volunteer's /signal is its own relay's, and each publish
// reaches the other relays' subscribers through PostgreSQL (relay/cluster/).
it.skipIf(!POSTGRES_URL)(
  'syncs a Y.Map between two browsers signaling through two relays of one run',
  async () => {
    const db = await freshClusterDatabase();
    const dataset = await smallDataset();
    const firstDir = await mkdtemp(join(tmpdir(), 'potluck-cluster-'));
    const relays = [await startTestRelay(dataset, { stateDir: firstDir, databaseUrl: db.url })];
    relays.push(
      await startTestRelay(dataset, { stateDir: await stateDirSharingKey(firstDir), databaseUrl: db.url }),
    );
    const launch = () =>
      chromium.launch({
        executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
        args: CHROMIUM_WEBGPU_ARGS,
      });
    const browsers = await Promise.all([launch(), launch()]);
    try {
      const errors: string[] = [];
      const room = `potluck-e2e-cluster-${Date.now()}`;
      const [one, two] = await openInTurn(browsers, (browser, i) =>
        openPeer(browser, room, errors, `${(relays[i] as RelayHandle).url.replace(/^http/, 'ws')}/signal`),
      );
      for (const page of [one, two])
        await page.waitForFunction(
          () => (window as unknown as TestWindow).yWebrtcTest.webrtcPeers() >= 1,
          undefined,
          {
            timeout: 30_000,
          },
        );
      await one.evaluate(() =>
        (window as unknown as TestWindow).yWebrtcTest.set('from-one', 'across relays'),
      );
      await two.waitForFunction(
        () => (window as unknown as TestWindow).yWebrtcTest.get('from-one') === 'across relays',
      );
      expect(errors).toEqual([]);
    } finally {
      await Promise.all(browsers.map((browser) => browser.close()));
      for (const relay of relays) await relay.close();
      await db.dispose();
    }
  },
);
