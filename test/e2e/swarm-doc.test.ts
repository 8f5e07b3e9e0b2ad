// The swarm document between two separate headless Chromium processes that meet through our
// /signal endpoint: each lists the other (the relay's list of members is played by the test)
// within seconds and sees its signed updates. Then a third, hostile client joins the room with
// a bare y-webrtc provider and writes what any peer can: a forgery over Bob's row, Bob's own
// older entry replayed, junk over Ada's row, an oversized entry signed by a listed member, a
// well-signed entry of a key the relay did not list, and 1,100 entries under fresh keys. The
// page shows none of it (its table is checked cell by cell and saved as
// test/e2e/screenshots/swarm-doc-attacked.png), shows the attacker once it writes an honest
// entry, and drops a peer that leaves at once (its signed farewell, well before the stale
// window). Two browsers, not two tabs, so BroadcastChannel cannot stand in for WebRTC.
// test/unit/peer/swarm-doc-roster.test.ts covers the rest without a browser.

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
const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
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

async function openPage(browser: Browser, name: string, errors: string[]): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (error) => errors.push(`${name}: ${error.message}`));
  await page.goto(`http://${origin}/`);
  await page.waitForFunction(() => (window as unknown as TestWindow).swarmDocPage !== undefined);
  return page;
}

async function openPeer(browser: Browser, runId: string, name: string, errors: string[]): Promise<Peer> {
  const page = await openPage(browser, name, errors);
  const key = await page.evaluate(
    ([runId, name, url]) => (window as unknown as TestWindow).swarmDocPage.start(runId, name, url),
    [runId, name, `ws://${origin}/signal`] as const,
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
    // The relay's list of whom it seats together (an assignment's group, on the real page).
    for (const [peer, other] of [
      [ada, bob],
      [bob, ada],
    ] as const)
      await peer.page.evaluate(
        (key) => (window as unknown as TestWindow).swarmDocPage.setMembers([key]),
        other.key,
      );
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
      }),
    );
    await waitForRow(ada, bob.key, { round: 2, phase: 'committed', loss: 4.75 }, UPDATE_TIMEOUT_MS);

    // Mallory joins the room from a third browser context (no BroadcastChannel with Ada's) as a
    // bare y-webrtc client, with two keys: the relay lists the first as a member, not the second.
    // (browser.newPage() opens a context of its own.)
    const attacker = await openPage(browsers[0] as Browser, 'mallory', errors);
    const [member, outsider] = await attacker.evaluate(
      ([runId, url]) => (window as unknown as TestWindow).swarmDocPage.attack(runId, url, 2),
      [runId, `ws://${origin}/signal`] as const,
    );
    if (!member || !outsider) throw new Error('two attacker keys expected');
    await ada.page.evaluate(
      (keys) => (window as unknown as TestWindow).swarmDocPage.setMembers(keys),
      [bob.key, member],
    );
    // Mallory keeps Bob's entry as it is now, to replay it once Bob has written a newer one.
    await attacker.waitForFunction(
      (key) => (window as unknown as TestWindow).swarmDocPage.rawValue(key) !== undefined,
      bob.key,
      { timeout: MEET_TIMEOUT_MS },
    );
    const bobsOld = await attacker.evaluate(
      (key) => (window as unknown as TestWindow).swarmDocPage.rawValue(key),
      bob.key,
    );
    await bob.page.evaluate(() =>
      (window as unknown as TestWindow).swarmDocPage.publish({ round: 4, phase: 'training', loss: 4.5 }),
    );
    await waitForRow(ada, bob.key, { round: 4, loss: 4.5 }, UPDATE_TIMEOUT_MS);

    const flood = await attacker.evaluate(
      async ([bobKey, adaKey, bobsOld]) => {
        const page = (window as unknown as TestWindow).swarmDocPage;
        page.writeRaw(bobKey, await page.forge(0, { name: 'bob', round: 99, loss: 0.01 }, bobKey));
        page.writeRaw(bobKey, bobsOld);
        page.writeRaw(adaKey, { body: '{"name":"ada"}', signature: 'A'.repeat(86) });
        page.writeRaw('bogus-key', await page.forge(0, { name: 'bogus' }));
        page.writeRaw('', 'junk');
        return page.flood(1_100);
      },
      [bob.key, ada.key, bobsOld] as const,
    );
    await attacker.evaluate(
      async ([member, outsider]) => {
        const page = (window as unknown as TestWindow).swarmDocPage;
        page.writeRaw(member, await page.forgeOversized(0, 100_000));
        page.writeRaw(outsider, await page.forge(1, { name: 'outsider' }));
      },
      [member, outsider] as const,
    );
    // Every key Mallory wrote has reached Ada (the flood last of its transaction's keys).
    await ada.page.waitForFunction(
      (keys) => {
        const raw = new Set((window as unknown as TestWindow).swarmDocPage.rawKeys());
        return keys.every((key) => raw.has(key));
      },
      [...flood.slice(-3), member, outsider, 'bogus-key'],
      { timeout: UPDATE_TIMEOUT_MS },
    );
    await ada.page.evaluate(() => (window as unknown as TestWindow).swarmDocPage.settled());
    expect((await roster(ada)).map((row) => [row.key, row.name, row.round, row.loss])).toEqual(
      [
        [ada.key, 'ada', 1, 5.25],
        [bob.key, 'bob', 4, 4.5],
      ].sort(),
    );
    // Credits are the relay's (its leaderboard, played here), never what an entry says.
    await ada.page.evaluate(
      (key) => (window as unknown as TestWindow).swarmDocPage.showCredits([[key, 1.5]]),
      bob.key,
    );
    const table = await ada.page.evaluate(() => (window as unknown as TestWindow).swarmDocPage.table());
    expect(table.map((cells) => [...cells.slice(0, 4), cells[6]]).sort()).toEqual(
      [
        ['ada (you)', '1', 'training', '5.250', '–'],
        ['bob', '4', 'training', '4.500', '1.50'],
      ].sort(),
    );
    const held = (await ada.page.evaluate(() => (window as unknown as TestWindow).swarmDocPage.rawKeys()))
      .length;
    expect(held).toBeGreaterThan(1_100);
    await ada.page.evaluate((held) => {
      const status = document.querySelector('#status') as HTMLElement;
      status.textContent = `Ada's copy of the document holds ${held} entries after the attack; her table shows these:`;
    }, held);
    await ada.page.screenshot({ path: `${SCREENSHOTS}swarm-doc-attacked.png`, fullPage: true });

    // A listed member's honest entry is shown, from the same hostile client.
    await attacker.evaluate(async (member) => {
      const page = (window as unknown as TestWindow).swarmDocPage;
      page.writeRaw(member, await page.forge(0, { name: 'mallory', round: 4 }));
    }, member);
    await waitForRow(ada, member, { name: 'mallory', round: 4 }, UPDATE_TIMEOUT_MS);
    expect((await roster(ada)).map((row) => row.key).sort()).toEqual([ada.key, bob.key, member].sort());
    await attacker.context().close();

    // Ada leaves: her signed farewell reaches Bob before her connections close.
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
