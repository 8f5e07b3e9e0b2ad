// A relay restart strands no one: the relay runs as its own process on a state folder (the
// embedded PGlite, the checkpoints) and serves the pages; two headless Node volunteers and a
// volunteer page (headless Chromium) train a tiny model together, every round needing all three.
// The relay is SIGKILLed mid-round and started again on the same folder, several times. Each
// time the page shows "reconnecting" with its next attempt's time (screenshot in
// test/e2e/screenshots/relay-restart-reconnecting.png), the headless volunteers log it, all
// three come back with the same keys, and the next round commits counting all three. At the
// end every receipt each volunteer holds is in the ledger exactly once, and the chain verifies.
// Restarting it on another run (another config: another run id) stops them for good.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright';
import { afterAll, expect, it } from 'vitest';
import type { Receipt } from '../../protocol/ledger-signatures.ts';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';
import { type NodeVolunteer, startNodeVolunteer } from '../../web/node/node-volunteer.ts';
import type { VolunteerEvent } from '../../web/src/peer/volunteer.ts';
import { auditLedger } from '../helpers/ledger-audit.ts';
import { roundsWithAll } from '../helpers/ledger-rounds.ts';
import { nodeContext } from '../helpers/node-context.ts';
import { freePort, killRelay, type RunningRelay, startRelayProcess } from '../helpers/relay-process.ts';
import { smallDataset, TEST_STAMP_BITS } from '../helpers/test-relay.ts';
import { memoryTuneCache } from '../helpers/tune-cache-memory.ts';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
const RESTARTS = 3;
const MODEL = { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 1, nHead: 2 };

let relay: RunningRelay | null = null;
let browser: Browser | null = null;
const volunteers: NodeVolunteer[] = [];
const figures: string[] = [];
const say = (line: string) => {
  figures.push(line);
  process.stdout.write(`${line}\n`);
};

afterAll(async () => {
  process.stdout.write(`relay restarts:\n${figures.join('\n')}\n`);
  await browser?.close().catch(() => undefined);
  await Promise.all(volunteers.map((v) => v.stop()));
  if (relay) await killRelay(relay, 'SIGTERM');
});

/** What a headless volunteer said about its connection, with when. */
interface Heard {
  readonly at: number;
  readonly text: string;
}

async function enlist(url: string, name: string, heard: Heard[]): Promise<NodeVolunteer> {
  const started = await startNodeVolunteer({
    relay: url,
    name,
    stateDir: await mkdtemp(join(tmpdir(), `potluck-${name}-`)),
    ctx: await nodeContext(),
    tuneCache: memoryTuneCache(),
    onEvent: (event: VolunteerEvent) => {
      // Its status lines, and the rounds and receipts between them (printed if a receipt is missing).
      const text =
        event.type === 'status'
          ? event.text
          : event.type === 'round'
            ? `[round ${event.round} ${event.phase}]`
            : event.type === 'receipt'
              ? `[receipt of round ${event.receipt.entry.round}]`
              : null;
      if (text === null) return;
      heard.push({ at: Date.now(), text });
      if (process.env.POTLUCK_TEST_LOG) process.stderr.write(`${name} ${text}\n`);
    },
  });
  volunteers.push(started);
  return started;
}

const text = (page: Page, selector: string) => page.textContent(selector).then((t) => t ?? '');

/** A volunteer page in its own Chromium process, donating; resolves to it and its key. */
async function openTab(url: string): Promise<{ page: Page; key: string }> {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_WEBGPU_ARGS,
  });
  const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
  await page.goto(`${url.replace('127.0.0.1', 'localhost')}/`); // WebGPU wants a secure context
  await expect.poll(() => text(page, '#gpu'), { timeout: 60_000 }).toMatch(/^GPU: /);
  const key = await text(page, '#peer-id');
  await page.click('#donate');
  return { page, key };
}

/** The tab's receipts, straight from its IndexedDB (web/src/peer/idb-store.ts). */
function tabReceipts(page: Page): Promise<Receipt[]> {
  return page.evaluate(
    () =>
      new Promise<Receipt[]>((resolve, reject) => {
        const opened = indexedDB.open('potluck-volunteer');
        opened.onerror = () => reject(opened.error);
        opened.onsuccess = () => {
          const read = opened.result.transaction('state').objectStore('state').get('receipts');
          read.onerror = () => reject(read.error);
          read.onsuccess = () => resolve((read.result as Receipt[] | undefined) ?? []);
        };
      }),
  );
}

async function committedRound(url: string): Promise<number> {
  const health = (await (await fetch(`${url}/healthz`)).json()) as { committedRound: number };
  return health.committedRound;
}

/** Waits for a round after `after` that counted all of `keys`; resolves to its number. */
async function nextRoundWithAll(url: string, keys: readonly string[], after: number, timeoutMs: number) {
  let found: number[] = [];
  await expect
    .poll(
      async () => {
        found = await roundsWithAll(url, keys, after);
        return found.length;
      },
      { timeout: timeoutMs, interval: 500 },
    )
    .toBeGreaterThan(0);
  return found[0] as number;
}

it(`brings two headless volunteers and a page back after ${RESTARTS} SIGKILLs of the relay`, async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'potluck-restart-'));
  const dataset = await smallDataset(8);
  const run = {
    dataset,
    model: MODEL,
    inner: { batchSize: 4, seqLen: 32, learningRate: 1e-2, warmupRounds: 0 },
    round: { innerSteps: 6, compression: { randomK: 0.5, topK: 0.5, bits: 4, blockSize: 64 } },
    identity: { stampBits: TEST_STAMP_BITS },
    // Every round needs all three: a round that commits after a restart is proof they all came back.
    schedule: { minPeers: 3, gatherMs: 1_000, minRoundMs: 60_000, maxRoundMs: 60_000, hashTimeoutMs: 30_000 },
  };
  const runFile = join(stateDir, 'run.json');
  await writeFile(runFile, JSON.stringify(run));
  const port = await freePort();
  const args = ['--port', String(port), '--host', '127.0.0.1', '--state', stateDir, '--run', runFile];
  // The first start may build the pages into dist/web.
  relay = await startRelayProcess(args, { pages: true, timeoutMs: 240_000 });
  const url = relay.url;

  const heard: Heard[][] = [[], []];
  const nodes = [
    await enlist(url, 'alpha', heard[0] as Heard[]),
    await enlist(url, 'beta', heard[1] as Heard[]),
  ];
  const tab = await openTab(url);
  const keys = [...nodes.map((n) => n.peerId), tab.key];
  let round = await nextRoundWithAll(url, keys, -1, 400_000);
  say(`round ${round} committed with all three before any restart`);

  await mkdir(SCREENSHOTS, { recursive: true });
  for (let restart = 1; restart <= RESTARTS; restart++) {
    // Into the next round: its assignment is out and the GPUs are training.
    await expect.poll(() => committedRound(url), { timeout: 60_000 }).toBeGreaterThanOrEqual(round);
    await new Promise((resolve) => setTimeout(resolve, 1_500 + 1_000 * restart));
    const before = await committedRound(url);
    await killRelay(relay);
    const killed = Date.now();
    // While it is down, the page says so with the next attempt's time, and so do the headless.
    await expect
      .poll(() => text(tab.page, '#status'), { timeout: 30_000 })
      .toMatch(/^reconnecting to the relay .*attempt \d+ at \d\d:\d\d:\d\d, in \d+ s$/);
    if (restart === 1)
      await tab.page.screenshot({ path: `${SCREENSHOTS}relay-restart-reconnecting.png`, fullPage: true });
    for (const log of heard)
      await expect
        .poll(() => log.some((h) => h.at >= killed && /^reconnecting to the relay/.test(h.text)), {
          timeout: 30_000,
        })
        .toBe(true)
        .catch((error: unknown) => {
          process.stdout.write(`${log.map((h) => `${new Date(h.at).toISOString()} ${h.text}`).join('\n')}\n`);
          throw error;
        });
    relay = await startRelayProcess(args, { pages: true });
    const restarted = Date.now();
    // It resumed from its last committed round (one may have committed as the kill landed).
    const resumed = await committedRound(url);
    expect(resumed).toBeGreaterThanOrEqual(before);
    const reconnected = (log: Heard[]) => log.find((h) => h.at >= killed && /^reconnected/.test(h.text));
    const connectedAt = await Promise.all(
      heard.map(async (log) => {
        await expect.poll(() => reconnected(log), { timeout: 60_000 }).toBeTruthy();
        return (reconnected(log) as Heard).at;
      }),
    );
    const next = await nextRoundWithAll(url, keys, resumed, 300_000);
    const committedAt = Date.now();
    say(
      `restart ${restart}: killed after round ${resumed}; listening again ${((restarted - killed) / 1000).toFixed(1)} s later; ` +
        `headless back ${connectedAt.map((t) => `${((t - restarted) / 1000).toFixed(1)} s`).join(', ')} after the restart; ` +
        `round ${next} committed with all three ${((committedAt - restarted) / 1000).toFixed(1)} s after it`,
    );
    round = next;
  }

  // Receipts come after each commit: wait for those of the last round, then audit.
  const holders = [...nodes.map((n) => () => n.store.receipts()), () => tabReceipts(tab.page)];
  for (const [i, receipts] of holders.entries())
    await expect
      .poll(async () => (await receipts()).some((r) => r.entry.round === round), { timeout: 30_000 })
      .toBe(true)
      .catch(async (error: unknown) => {
        const rounds = (await receipts()).map((r) => r.entry.round);
        process.stdout.write(
          `volunteer ${i} holds receipts of rounds ${rounds.join(', ')}, not ${round}; it heard:\n` +
            `${(heard[i] ?? []).map((h) => `${new Date(h.at).toISOString()} ${h.text}`).join('\n')}\n`,
        );
        throw error;
      });
  const held = [
    ...(await Promise.all(nodes.map((n) => n.store.receipts()))).flat(),
    ...(await tabReceipts(tab.page)),
  ];
  // Exactly once: no volunteer holds a receipt twice, and each is in the chain (audited there).
  expect(new Set(held.map((r) => r.entry.hash)).size).toBe(held.length);
  const entries = await auditLedger(url, held);
  say(`${held.length} receipts held, all in the ledger of ${entries.length} entries; last round ${round}`);

  // The relay comes back with another run (another seed: another run id): nobody waits for it.
  await killRelay(relay);
  await writeFile(runFile, JSON.stringify({ ...run, seed: 4242 }));
  relay = await startRelayProcess(args, { pages: true });
  for (const node of nodes)
    expect(await node.ended).toMatch(/^run .* no longer exists on this relay \(it now serves run .*\)$/);
  await expect
    .poll(() => text(tab.page, '#status'), { timeout: 60_000 })
    .toMatch(/^stopped for good: run .* no longer exists/);
  await tab.page.screenshot({ path: `${SCREENSHOTS}relay-restart-run-gone.png`, fullPage: true });
}, 1_100_000);
