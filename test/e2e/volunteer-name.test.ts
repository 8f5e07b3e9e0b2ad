import { type Browser, chromium } from 'playwright';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkStamp } from '../../protocol/identity-stamp.ts';
import type { RelayHandle } from '../../relay/server.ts';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';
import { buildPages } from '../helpers/built-pages.ts';
import { type ScriptedVolunteer, startScriptedVolunteer } from '../helpers/scripted-volunteer.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';

let relay: RelayHandle;
let alice: ScriptedVolunteer;
let browser: Browser;

beforeAll(async () => {
  const webDir = await buildPages();
  relay = await startTestRelay(await smallDataset(), { webDir });
  alice = await startScriptedVolunteer(relay.url, 'Alice');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_WEBGPU_ARGS,
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  alice?.close();
  await relay?.close();
});

it('refuses a taken name on the page, and joins under another', async () => {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${relay.url.replace('127.0.0.1', 'localhost')}/`);
  await expect.poll(() => page.textContent('#gpu'), { timeout: 60_000 }).toMatch(/^GPU: /);
  expect(await page.inputValue('#name')).toMatch(/^tab-/);

  await page.fill('#name', 'ALICE');
  await page.click('#donate');
  await expect
    .poll(() => page.textContent('#status'), { timeout: 30_000 })
    .toMatch(/already goes by "ALICE".*Choose another name/);
  expect(await page.isEnabled('#name')).toBe(true);
  expect(await page.isEnabled('#donate')).toBe(true);
  expect((await relay.run.summary()).peers).toBe(1);

  await page.fill('#name', 'Bob');
  await page.click('#donate');
  await expect.poll(async () => (await relay.run.summary()).peers, { timeout: 60_000 }).toBe(2);
  await expect.poll(() => page.textContent('#status'), { timeout: 60_000 }).not.toMatch(/already goes by/);
  expect(await page.isEnabled('#name')).toBe(false);

  const runId = relay.run.id;
  const kept = await page.evaluate(
    (key) =>
      new Promise<unknown>((resolve, reject) => {
        const opened = indexedDB.open('potluck-volunteer');
        opened.onerror = () => reject(opened.error);
        opened.onsuccess = () => {
          const read = opened.result.transaction('state').objectStore('state').get(key);
          read.onsuccess = () => resolve(read.result);
          read.onerror = () => reject(read.error);
        };
      }),
    `stamp:${runId}`,
  );
  const key = (await page.textContent('#peer-id')) ?? '';
  expect(checkStamp(runId, key, kept, relay.run.config.identity.stampBits)).toEqual({ ok: true });
  expect(problems).toEqual([]);
}, 180_000);
