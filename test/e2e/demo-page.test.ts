// The page in real headless Chromium, served from http://localhost by Vite: it finds the GPU,
// trains in its worker when the button is pressed, and draws the loss. The screenshot lands in
// test/e2e/screenshots/ for a person to look at.
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright';
import { createServer } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;

let server: Awaited<ReturnType<typeof createServer>>;
let url = '';

beforeAll(async () => {
  server = await createServer({
    configFile: `${ROOT}web/vite.config.ts`,
    server: { port: 0, host: 'localhost' },
    logLevel: 'error',
  });
  await server.listen();
  url = server.resolvedUrls?.local[0] ?? '';
});

afterAll(async () => {
  await server?.close();
});

it('shows the GPU, trains on click, and draws a falling loss', async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_WEBGPU_ARGS,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 800, height: 720 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    await expect.poll(() => page.textContent('#status'), { timeout: 60_000 }).toMatch(/^GPU: /);
    await page.click('#start');
    // The first steps compile the pipelines; then the step counter moves.
    await page.waitForFunction(
      () => Number.parseInt(document.querySelector('#step')?.textContent ?? '0', 10) >= 40,
      undefined,
      {
        timeout: 240_000,
      },
    );
    const loss = Number(await page.textContent('#current-loss'));
    expect(loss).toBeLessThan(5); // from ~5.5 (ln 256) at the start
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOTS}demo-training.png` });
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
});
