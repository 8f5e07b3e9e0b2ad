// The product end to end: the relay serves the built pages (under its real CSP); three
// volunteer pages, each in its own Chromium process, press "Donate my GPU" and train in the
// same rounds as a headless Node volunteer, over WebRTC between tabs and Node, with
// compression on. The validation loss of the committed state falls, no peer ever reports
// another hash than the committed one, credits are 6 x parameters x assigned tokens, and the
// leaderboard shows all four. A tab whose browser dies mid-round does not stall the round; a
// reload keeps a tab's identity and receipts and resumes donating. Screenshots of both pages
// land in test/e2e/screenshots/ for a person to look at.
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
import { stateValidationLoss } from '../helpers/state-validation-loss.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';
import { memoryTuneCache } from '../helpers/tune-cache-memory.ts';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;

const MODEL = { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 1, nHead: 2 };

let relay: RelayHandle;
let dataset = '';
const browsers: Browser[] = [];
let node: NodeVolunteer;
let pageUrl = '';
/** The relay's round log, printed when a test fails to say why rounds did not commit. */
const roundLog: string[] = [];
const note = (fields: object, message?: string) =>
  roundLog.push(`${message ?? ''} ${JSON.stringify(fields)}`);
const relayLog = { debug: () => {}, info: note, warn: note, error: note };

beforeAll(async () => {
  const webDir = await buildPages();
  dataset = await smallDataset(8);
  relay = await startTestRelay(dataset, {
    webDir,
    log: relayLog,
    overrides: {
      model: MODEL,
      guard: { validationSequences: 2 }, // real training: the relay scores steps and states
      inner: { batchSize: 4, seqLen: 32, learningRate: 1e-2, warmupRounds: 0 },
      round: { innerSteps: 6, compression: { randomK: 0.5, topK: 0.5, bits: 4, blockSize: 64 } },
      schedule: {
        minPeers: 2,
        gatherMs: 1_000,
        minRoundMs: 60_000,
        maxRoundMs: 60_000,
        hashTimeoutMs: 30_000,
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
  await relay?.close();
});

const text = (page: Page, selector: string) => page.textContent(selector).then((t) => t ?? '');

/** HTTP refusals that are the protocol answering a race, not a fault (see openTab). */
const PROTOCOL_RACES = [
  { status: 409, path: /\/rounds\/\d+\/frames\//, code: 'ERR_FRAME_LATE' },
  { status: 404, path: /\/state\/[0-9a-f]+\/pieces\/\d+$/, code: 'ERR_STATE_NOT_SERVED' },
];

interface Tab {
  readonly browser: Browser;
  readonly page: Page;
  readonly key: string;
  readonly problems: string[];
}

/** A volunteer page in its own Chromium process, donating. */
async function openTab(): Promise<Tab> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_WEBGPU_ARGS,
  });
  browsers.push(browser);
  const page = await browser.newPage({ viewport: { width: 900, height: 1400 } });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    const said = message.text();
    // An HTTP error's console line names no request: the response listener below reports it.
    if (
      message.type() === 'error' &&
      !/ICE|candidate|^Failed to load resource: the server responded/i.test(said)
    )
      problems.push(said);
  });
  // Every HTTP error the page met, with its request and the relay's reason, but the races the
  // protocol resolves on a loaded machine: a frame that lands after its round was decided (the
  // page says it was not counted), and a state piece of a download a newer commit overtook
  // (the page fetches the newest).
  page.on('response', async (response) => {
    if (response.status() < 400) return;
    const reason = await response.text().catch(() => '');
    const race = PROTOCOL_RACES.some(
      ({ status, path, code }) =>
        response.status() === status && path.test(response.url()) && reason.includes(`"${code}"`),
    );
    if (!race)
      problems.push(
        `${response.status()} ${response.request().method()} ${response.url()} ${reason.slice(0, 200)}`,
      );
  });
  await page.goto(`${pageUrl}/`);
  await expect.poll(() => text(page, '#gpu'), { timeout: 60_000 }).toMatch(/^GPU: /);
  const key = await text(page, '#peer-id');
  await page.click('#donate');
  return { browser, page, key, problems };
}

async function ledgerEntries() {
  return (
    (await (await relay.app.request('/api/ledger')).json()) as {
      entries: { peerKey: string; round: number; tokens: number; flops: string }[];
    }
  ).entries;
}

/** Rounds in which every one of `keys` was credited. */
async function sharedRounds(keys: readonly string[]): Promise<number[]> {
  const entries = await ledgerEntries();
  const roundsOf = (key: string) => new Set(entries.filter((e) => e.peerKey === key).map((e) => e.round));
  const [first, ...rest] = keys.map(roundsOf);
  return [...(first ?? [])].filter((r) => rest.every((set) => set.has(r)));
}

const validationLoss = (stateBytes: Uint8Array) => stateValidationLoss(MODEL, stateBytes, dataset);

const checkpoint = async () =>
  new Uint8Array(await (await relay.app.request(`/api/runs/${relay.run.id}/checkpoint`)).arrayBuffer());

it('three browser volunteers and a headless Node volunteer train together; the leaderboard shows them', async () => {
  const initial = await checkpoint();
  const tabs = [await openTab(), await openTab(), await openTab()];
  node = await startNodeVolunteer({
    relay: relay.url,
    name: 'server-gpu',
    stateDir: await mkdtemp(join(tmpdir(), 'potluck-node-')),
    ctx: await nodeContext(),
    tuneCache: memoryTuneCache(),
  });
  const everyone = [...tabs.map((t) => t.key), node.peerId];
  await expect
    .poll(async () => (await sharedRounds(everyone)).length, { timeout: 400_000, interval: 1_000 })
    .toBeGreaterThanOrEqual(2)
    .catch((error: unknown) => {
      process.stdout.write(`relay log:\n${roundLog.join('\n')}\n`);
      throw error;
    });

  // Every peer that summed a round reported the hash the relay committed.
  const { hashDisagreements } = await relay.run.summary();
  process.stdout.write(`model-hash disagreements: ${hashDisagreements}\n`);
  if (hashDisagreements > 0) process.stdout.write(`relay log:\n${roundLog.join('\n')}\n`);
  expect(hashDisagreements).toBe(0);
  expect(roundLog.filter((line) => line.includes('model hashes split'))).toEqual([]);
  const { batchSize, seqLen } = relay.run.config.inner;
  for (const entry of await ledgerEntries()) {
    expect(everyone).toContain(entry.peerKey);
    expect(entry.tokens % (batchSize * seqLen)).toBe(0);
    expect(BigInt(entry.flops)).toBe(6n * BigInt(relay.run.paramCount) * BigInt(entry.tokens));
  }
  // The committed state (uploaded by a designated peer, tab or Node) learned.
  await expect
    .poll(() => relay.run.checkpoints.latest()?.round ?? -1, { timeout: 60_000 })
    .toBeGreaterThanOrEqual(1);
  const before = await validationLoss(initial);
  const after = await validationLoss(await checkpoint());
  process.stdout.write(`validation loss θ_0 ${before.toFixed(4)} → ${after.toFixed(4)}\n`);
  expect(after).toBeLessThan(before - 0.2);

  for (const tab of tabs)
    await expect.poll(() => text(tab.page, '#receipts'), { timeout: 30_000 }).not.toBe('0');
  // Each tab shows its links (to the others of its group in the latest round: at most the other
  // three volunteers) and their set-up time.
  for (const tab of tabs) expect(await text(tab.page, '#links')).toMatch(/^[1-3], set up in \d+\.\d s$/);
  await (tabs[0] as Tab).page.screenshot({ path: `${SCREENSHOTS}volunteer-page.png`, fullPage: true });
  const board = await (tabs[0] as Tab).browser.newPage({ viewport: { width: 900, height: 900 } });
  await board.goto(`${pageUrl}/leaderboard`);
  await expect.poll(() => board.locator('#board tbody tr').count(), { timeout: 30_000 }).toBe(4);
  await board.screenshot({ path: `${SCREENSHOTS}leaderboard.png`, fullPage: true });
  for (const tab of tabs) expect(tab.problems).toEqual([]);

  // A tab whose browser dies mid-round does not hold the round past its deadline.
  const doomed = tabs[2] as Tab;
  const start = relay.run.coordinator.lastCommitted.round;
  await expect
    .poll(() => relay.run.coordinator.roundInProgress?.round ?? -1, { timeout: 120_000 })
    .toBe(start + 1);
  const killedAt = Date.now();
  await doomed.browser.close();
  await expect
    .poll(() => relay.run.coordinator.lastCommitted.round, { timeout: 120_000, interval: 500 })
    .toBeGreaterThanOrEqual(start + 1);
  const { maxRoundMs, hashTimeoutMs } = relay.run.config.schedule;
  expect(Date.now() - killedAt).toBeLessThan(maxRoundMs + hashTimeoutMs);

  // A reload keeps the identity and the receipts, and resumes donating by itself.
  const tab = tabs[0] as Tab;
  const receiptsBefore = Number(await text(tab.page, '#receipts'));
  await tab.page.reload();
  await expect.poll(() => text(tab.page, '#peer-id'), { timeout: 30_000 }).toBe(tab.key);
  // The receipts are read from IndexedDB after the identity is shown: wait for them.
  await expect
    .poll(async () => Number(await text(tab.page, '#receipts')), { timeout: 30_000 })
    .toBeGreaterThanOrEqual(receiptsBefore);
  await expect
    .poll(() => text(tab.page, '#status'), { timeout: 60_000 })
    .toMatch(/Joined run|Training|Round|waiting/);
  expect(tab.problems).toEqual([]);
}, 900_000);
