// The leaderboard page end to end, with no GPU: scripted volunteers (real keys, real /swarm
// protocol, fake training) earn credits on a real relay, which serves the built page under its
// real CSP to headless Chromium. The page lists them (each credit column at one precision),
// sorts by any column, picks up a newcomer without a reload, verifies the signed head, audits
// the whole chain, and tells a genuine receipt from a tampered one. A screenshot lands in
// test/e2e/screenshots/.
import { mkdir } from 'node:fs/promises';
import { type Browser, chromium, type Page } from 'playwright';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RelayHandle } from '../../relay/server.ts';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';
import { buildPages } from '../helpers/built-pages.ts';
import { type ScriptedVolunteer, startScriptedVolunteer } from '../helpers/scripted-volunteer.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
/** A scripted volunteer's pretend training time per round. */
const TRAIN_MS = 250;

let relay: RelayHandle;
let browser: Browser;
const volunteers: ScriptedVolunteer[] = [];
let pageUrl = '';

beforeAll(async () => {
  const webDir = await buildPages();
  relay = await startTestRelay(await smallDataset(8), { webDir });
  // Different speeds, so the relay assigns them different token counts each round. Scripted
  // peers answer at once; without a pause, rounds run back to back fast enough to trip the
  // relay's per-connection rate limit, and the board would stop changing.
  volunteers.push(
    await startScriptedVolunteer(relay.url, 'alice', { tokensPerSec: 500, trainMs: TRAIN_MS }),
    await startScriptedVolunteer(relay.url, 'bob', { tokensPerSec: 4000, trainMs: TRAIN_MS }),
  );
  await Promise.all(volunteers.map((v) => v.commits(3)));
  pageUrl = relay.url.replace('127.0.0.1', 'localhost');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_WEBGPU_ARGS,
  });
  await mkdir(SCREENSHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  for (const v of volunteers) v.close();
  await browser?.close();
  await relay?.close();
});

const text = (page: Page, selector: string) => page.textContent(selector).then((t) => t ?? '');
const names = (page: Page) => page.locator('#board tbody td.col-name').allTextContents();

/**
 * 'ok' when each credit column prints every cell as a plain number with the same decimals,
 * right-aligned (issue 17: "0.19" beside "0.195"), else what is wrong. Each column is read in
 * one go, so a poll landing between two cells cannot mix two boards.
 */
async function creditColumnsProblem(page: Page): Promise<string> {
  for (const column of ['credits', 'provisional']) {
    const cells = page.locator(`#board tbody td.col-${column}`);
    const texts = await cells.allTextContents();
    const decimals = new Set(texts.map((t) => t.split('.')[1]?.length ?? 0));
    if (!texts.every((t) => /^[\d,]+(\.\d+)?$/.test(t)) || decimals.size !== 1)
      return `${column}: ${texts.join(' | ')}`;
    const aligns = await cells.evaluateAll((tds) => tds.map((td) => getComputedStyle(td).textAlign));
    if (!aligns.every((a) => a === 'right')) return `${column} aligned ${aligns.join()}`;
  }
  return 'ok';
}

/**
 * 'ok' when the page lists names in the order of the relay's current rows sorted by tokens,
 * else both orders. Rounds keep committing, so the two are read together each time.
 */
async function sortedByTokens(page: Page, direction: 'ascending' | 'descending'): Promise<string> {
  const { rows } = (await (await relay.app.request('/api/leaderboard')).json()) as {
    rows: { name: string; tokens: number }[];
  };
  const sign = direction === 'ascending' ? 1 : -1;
  const expected = [...rows].sort((a, b) => sign * (a.tokens - b.tokens)).map((r) => r.name);
  const shown = await names(page);
  return shown.join() === expected.join() ? 'ok' : `page ${shown.join()}, relay ${expected.join()}`;
}

it('shows the volunteers live, sorts, verifies the head, audits the chain and checks receipts', async () => {
  const page = await browser.newPage({ viewport: { width: 900, height: 1400 } });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  await page.goto(`${pageUrl}/leaderboard`);

  await expect.poll(() => names(page), { timeout: 30_000 }).toHaveLength(2);
  expect((await names(page)).sort()).toEqual(['alice', 'bob']);
  await expect.poll(() => text(page, '#updated')).toMatch(/^updated \d+ s ago$/);
  expect(await creditColumnsProblem(page)).toBe('ok');

  // Sorting: the first click on "tokens" sorts ascending, the second descending.
  const tokensHeader = page.locator('#board th[data-sort="tokens"]');
  await page.getByRole('button', { name: 'tokens', exact: true }).click();
  await expect.poll(() => tokensHeader.getAttribute('aria-sort')).toBe('ascending');
  expect(await page.locator('#board th[aria-sort]').count()).toBe(1);
  await expect.poll(() => sortedByTokens(page, 'ascending'), { timeout: 10_000 }).toBe('ok');
  await tokensHeader.locator('button').press('Enter'); // the header is a keyboard button too
  await expect.poll(() => tokensHeader.getAttribute('aria-sort')).toBe('descending');
  await expect.poll(() => sortedByTokens(page, 'descending'), { timeout: 10_000 }).toBe('ok');

  // Live: a volunteer who joins after the page loaded appears without a reload, in the chosen sort.
  volunteers.push(
    await startScriptedVolunteer(relay.url, 'carol', { tokensPerSec: 1000, trainMs: TRAIN_MS }),
  );
  await expect
    .poll(async () => (await names(page)).sort(), { timeout: 30_000 })
    .toEqual(['alice', 'bob', 'carol']);
  expect(await tokensHeader.getAttribute('aria-sort')).toBe('descending');
  await expect.poll(() => sortedByTokens(page, 'descending'), { timeout: 10_000 }).toBe('ok');
  expect(await creditColumnsProblem(page)).toBe('ok'); // a newcomer's few credits too

  await expect
    .poll(() => text(page, '#head-signature'))
    .toMatch(/^Signature verified against the relay key /);
  expect(await page.getAttribute('#head-signature', 'data-verdict')).toBe('ok');

  await page.click('#audit');
  await expect.poll(() => text(page, '#audit-result'), { timeout: 30_000 }).toMatch(/^Chain OK: /);

  const [alice] = volunteers;
  if (!alice) throw new Error('no alice');
  await expect.poll(() => alice.receipts.length).toBeGreaterThan(0);
  const receipt = alice.receipts[0] as { entry: { tokens: number } };
  await page.fill('#receipt', JSON.stringify(receipt));
  await page.click('#receipt-form button[type="submit"]');
  await expect.poll(() => text(page, '#receipt-verdict')).toMatch(/^Verified: /);
  expect(await page.getAttribute('#receipt-verdict', 'data-verdict')).toBe('ok');

  const tampered = { ...receipt, entry: { ...receipt.entry, tokens: receipt.entry.tokens + 1 } };
  await page.fill('#receipt', JSON.stringify(tampered));
  await page.click('#receipt-form button[type="submit"]');
  await expect.poll(() => text(page, '#receipt-verdict')).toMatch(/^Refused: the entry was altered/);
  expect(await page.getAttribute('#receipt-verdict', 'data-verdict')).toBe('bad');

  await page.fill('#receipt', 'not a receipt');
  await page.click('#receipt-form button[type="submit"]');
  await expect.poll(() => text(page, '#receipt-verdict')).toMatch(/^Refused: that is not JSON/);

  // Put the good receipt back for the screenshot, so a person sees the page at its best.
  await page.fill('#receipt', JSON.stringify(receipt));
  await page.click('#receipt-form button[type="submit"]');
  await expect.poll(() => text(page, '#receipt-verdict')).toMatch(/^Verified: /);
  await page.screenshot({ path: `${SCREENSHOTS}leaderboard-live.png`, fullPage: true });
  expect(problems).toEqual([]);
}, 180_000);
