// Why a public relay serves HTTPS: away from localhost, Chromium gives WebGPU (and WebRTC, and
// crypto.subtle) only to secure contexts. The relay serves the built pages over its own TLS
// (relay/tls/) with a test certificate for potluck.test, a name Chromium resolves to loopback
// (--host-resolver-rules); the volunteer page there is a secure context and finds a GPU. The
// same pages from a relay on plain http://potluck.test are not, and the page says why.
// Screenshots of both land in test/e2e/screenshots/.
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RelayHandle } from '../../relay/server.ts';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';
import { buildPages } from '../helpers/built-pages.ts';
import { testCertificate, writeTlsFiles } from '../helpers/test-certificate.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
const HOST = 'potluck.test'; // RFC 2606: reserved, never a real name

let secure: RelayHandle;
let plain: RelayHandle;
let browser: Browser;

beforeAll(async () => {
  const [webDir, dataset, certificate] = await Promise.all([
    buildPages(),
    smallDataset(),
    testCertificate(HOST),
  ]);
  const tls = await writeTlsFiles(await mkdtemp(join(tmpdir(), 'potluck-tls-')), certificate);
  [secure, plain] = await Promise.all([
    startTestRelay(dataset, { webDir, tls }),
    startTestRelay(dataset, { webDir }),
  ]);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...CHROMIUM_WEBGPU_ARGS, `--host-resolver-rules=MAP ${HOST} 127.0.0.1`],
  });
  await mkdir(SCREENSHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([secure?.close(), plain?.close()]);
});

/** `relay`'s volunteer page at http(s)://potluck.test:PORT/, with the errors it logged. */
async function openPage(relay: RelayHandle): Promise<{ page: Page; problems: string[] }> {
  // The certificate is self-signed: the browser is told to accept it, as it would a real one.
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 900, height: 900 },
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  const url = new URL(relay.url);
  await page.goto(`${url.protocol}//${HOST}:${url.port}/`);
  return { page, problems };
}

it('over https://potluck.test the page is a secure context and gets a GPU adapter', async () => {
  const { page, problems } = await openPage(secure);
  expect(page.url()).toMatch(/^https:\/\/potluck\.test:\d+\/$/);
  expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
  expect(await page.evaluate(async () => (await navigator.gpu.requestAdapter()) !== null)).toBe(true);
  // The page's own probe (in its worker) found it too, and it is ready to donate.
  await expect.poll(() => page.textContent('#gpu'), { timeout: 60_000 }).toMatch(/^GPU: /);
  expect(await page.isEnabled('#donate')).toBe(true);
  await page.screenshot({ path: `${SCREENSHOTS}https-relay-secure.png`, fullPage: false });
  expect(problems).toEqual([]);
});

it('over plain http://potluck.test it is not, and the page says it needs HTTPS', async () => {
  const { page, problems } = await openPage(plain);
  expect(page.url()).toMatch(/^http:\/\/potluck\.test:\d+\/$/);
  expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
  expect(await page.evaluate(() => typeof navigator.gpu)).toBe('undefined');
  await expect
    .poll(() => page.textContent('#status'), { timeout: 30_000 })
    .toContain('This page needs HTTPS: browsers only give WebGPU and WebRTC to secure pages');
  expect(await page.getAttribute('#status', 'class')).toContain('error');
  expect(await page.isEnabled('#donate')).toBe(false);
  await page.screenshot({ path: `${SCREENSHOTS}https-relay-insecure.png`, fullPage: false });
  expect(problems).toEqual([]);
});
