// The swarm document between two separate headless Chromium processes that meet through our
// /signal endpoint: each lists the other within seconds, sees its updates, skips what a
// hostile peer writes into the map without throwing, and drops a peer that leaves at once (by
// its deletion, well before the stale window). Two browsers, not two tabs, so BroadcastChannel
// cannot stand in for WebRTC. test/unit/peer/swarm-doc-roster.test.ts covers the rest without
// a browser.

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium, type Page } from 'playwright';
import { build, type Rolldown } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { routeUpgrades } from '../../relay/http/upgrade-route.ts';
import { createSignalServer, type SignalServer } from '../../relay/signal/index.ts';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';
import type { PeerMetrics } from '../../web/src/peer/swarm-doc-roster.ts';
import type { SwarmDocPageApi } from './pages/swarm-doc/main.ts';

const PAGE_DIR = new URL('./pages/swarm-doc/', import.meta.url).pathname;
const CONTENT_TYPES: Record<string, string> = { html: 'text/html', js: 'text/javascript' };
/** Finding each other: signaling, offer/answer, ICE, then the first sync. */
const MEET_TIMEOUT_MS = 30_000;
/** An update or a deletion over an open data channel; far below the 60 s stale window. */
const UPDATE_TIMEOUT_MS = 10_000;

let signal: SignalServer;
let http: Server;
let origin = '';

/** The page bundled in memory (the SwarmDoc, yjs, y-webrtc and simple-peer's browser build). */
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

type TestWindow = Window & { swarmDocPage: SwarmDocPageApi };

interface Peer {
  readonly page: Page;
  readonly key: string;
}

async function openPeer(browser: Browser, runId: string, name: string, errors: string[]): Promise<Peer> {
  const page = await browser.newPage();
  page.on('pageerror', (error) => errors.push(`${name}: ${error.message}`));
  await page.goto(`http://${origin}/`);
  await page.waitForFunction(() => (window as unknown as TestWindow).swarmDocPage !== undefined);
  // What PeerIdentity.publicKey looks like: a raw Ed25519 key's 32 bytes in base64url.
  const key = randomBytes(32).toString('base64url');
  await page.evaluate(
    ([runId, key, name, url]) => (window as unknown as TestWindow).swarmDocPage.start(runId, key, name, url),
    [runId, key, name, `ws://${origin}/signal`] as const,
  );
  return { page, key };
}

/** Waits until `peer`'s roster has a row for `key` that `matches` (inside the page). */
async function waitForRow(peer: Peer, key: string, fields: Partial<PeerMetrics>, timeout: number) {
  await peer.page.waitForFunction(
    ([key, fields]) => {
      const row = (window as unknown as TestWindow).swarmDocPage.roster().find((r) => r.key === key);
      return (
        row !== undefined &&
        Object.entries(fields).every(([field, value]) => row[field as keyof typeof row] === value)
      );
    },
    [key, fields] as const,
    { timeout },
  );
}

const roster = (peer: Peer) =>
  peer.page.evaluate(() => (window as unknown as TestWindow).swarmDocPage.roster());

it('shares the roster and live metrics between two browsers that met through /signal', async () => {
  const launch = () =>
    chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_WEBGPU_ARGS,
    });
  const browsers = await Promise.all([launch(), launch()]);
  try {
    const errors: string[] = [];
    const runId = `e2e-${Date.now()}`;
    const [ada, bob] = await Promise.all([
      openPeer(browsers[0] as Browser, runId, 'ada', errors),
      openPeer(browsers[1] as Browser, runId, 'bob', errors),
    ]);
    if (!ada || !bob) throw new Error('two peers expected');
    await ada.page.evaluate(() =>
      (window as unknown as TestWindow).swarmDocPage.publish({ round: 1, phase: 'training', loss: 5.25 }),
    );
    await bob.page.evaluate(() =>
      (window as unknown as TestWindow).swarmDocPage.publish({ round: 1, phase: 'training', loss: 5.5 }),
    );

    // Each lists the other, its name and loss, once signaling, WebRTC and the first sync are done.
    await Promise.all([
      waitForRow(ada, bob.key, { name: 'bob', loss: 5.5 }, MEET_TIMEOUT_MS),
      waitForRow(bob, ada.key, { name: 'ada', loss: 5.25 }, MEET_TIMEOUT_MS),
    ]);
    expect(signal.stats()).toMatchObject({ topics: 1 });
    for (const peer of [ada, bob])
      expect(
        await peer.page.evaluate(() => (window as unknown as TestWindow).swarmDocPage.webrtcPeers()),
      ).toBe(1);

    // A later update arrives too (after the one-second throttle).
    await bob.page.evaluate(() =>
      (window as unknown as TestWindow).swarmDocPage.publish({
        round: 2,
        phase: 'committed',
        loss: 4.75,
        credits: 3,
      }),
    );
    await waitForRow(
      ada,
      bob.key,
      { round: 2, phase: 'committed', loss: 4.75, credits: 3 },
      UPDATE_TIMEOUT_MS,
    );

    // Ada plays a hostile peer: junk under a bogus key, a malformed entry under a real-looking
    // key, junk over Bob's own entry. Then an update of her own: the channel is ordered, so
    // once Bob sees it, he has all of the junk.
    const forged = randomBytes(32).toString('base64url');
    await ada.page.evaluate(
      ([forged, bobKey]) => {
        const page = (window as unknown as TestWindow).swarmDocPage;
        page.writeRaw('bogus-key', {
          name: 'mallory',
          round: 1,
          phase: 'training',
          loss: 1,
          tokensPerSec: 0,
          bytesSent: 0,
          bytesReceived: 0,
          credits: 1e9,
          updatedAt: Date.now(),
        });
        page.writeRaw(forged, {
          name: 'm'.repeat(100_000),
          round: -1,
          phase: 'mining',
          loss: Number.NaN,
          credits: Number.POSITIVE_INFINITY,
        });
        page.writeRaw(bobKey, [1, 2, 3]);
        page.publish({ round: 3 });
      },
      [forged, bob.key] as const,
    );
    await waitForRow(bob, ada.key, { round: 3 }, UPDATE_TIMEOUT_MS);
    const rawKeys = await bob.page.evaluate(() => (window as unknown as TestWindow).swarmDocPage.rawKeys());
    expect(rawKeys).toEqual(expect.arrayContaining(['bogus-key', forged, ada.key, bob.key]));
    // Skipped, not thrown: only Ada's entry is left (Bob's own was overwritten with junk).
    expect((await roster(bob)).map((row) => row.key)).toEqual([ada.key]);
    // Bob's next write puts his entry back, for himself and for Ada.
    await bob.page.evaluate(() => (window as unknown as TestWindow).swarmDocPage.publish({ round: 3 }));
    await waitForRow(ada, bob.key, { name: 'bob', round: 3 }, UPDATE_TIMEOUT_MS);
    expect((await roster(ada)).map((row) => row.key).sort()).toEqual([ada.key, bob.key].sort());

    // Ada leaves: her deletion reaches Bob before her connections close.
    await ada.page.evaluate(() => (window as unknown as TestWindow).swarmDocPage.destroy());
    await bob.page.waitForFunction(
      (key) => !(window as unknown as TestWindow).swarmDocPage.roster().some((row) => row.key === key),
      ada.key,
      { timeout: UPDATE_TIMEOUT_MS },
    );
    expect((await roster(bob)).map((row) => row.key)).toEqual([bob.key]);
    expect(
      await bob.page.evaluate(() => (window as unknown as TestWindow).swarmDocPage.changes()),
    ).toBeGreaterThan(3);
    expect(signal.stats().refused).toEqual({});
    expect(errors).toEqual([]);
  } finally {
    await Promise.all(browsers.map((browser) => browser.close()));
  }
});
