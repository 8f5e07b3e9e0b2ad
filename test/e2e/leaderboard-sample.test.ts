// "What the model writes now" end to end: scripted volunteers commit rounds on a real relay (their
// vectors move the weights, so each commit is a new checkpoint), which serves the built board
// under its real CSP to headless Chromium with WebGPU on SwiftShader. The page writes a sample
// with the GPU model in its worker; at temperature 0 the first byte is the CPU reference's argmax
// for the same checkpoint and prompt; the checkpoint is fetched once per model hash, and a new
// commit writes the sample again. A bad checkpoint and a browser without WebGPU each get a plain
// sentence in the panel while the board carries on. A screenshot lands in test/e2e/screenshots/.
import { mkdir } from 'node:fs/promises';
import { type Browser, chromium, type Page } from 'playwright';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CpuGpt } from '../../kernels/reference/gpt.ts';
import { paramsFromSafetensors } from '../../protocol/hf-checkpoint.ts';
import type { RunsBody } from '../../protocol/run-api.ts';
import { byteTokenizer } from '../../protocol/tokenizer.ts';
import type { RelayHandle } from '../../relay/server.ts';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';
import { argmax } from '../../web/src/leaderboard/sampling.ts';
import { buildPages } from '../helpers/built-pages.ts';
import { startScriptedVolunteer } from '../helpers/scripted-volunteer.ts';
import { SCRIPTED_MODEL, smallDataset, startTestRelay } from '../helpers/test-relay.ts';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
/** Bytes per sample: each is one forward pass on SwiftShader. */
const SAMPLE_BYTES = 24;
/** The board's poll (web/src/leaderboard/main.ts). */
const POLL_MS = 3_000;

let relay: RelayHandle;
let browser: Browser;
let boardUrl = '';

async function runSummary(): Promise<RunsBody['runs'][number]> {
  const { runs } = (await (await relay.app.request('/api/runs')).json()) as RunsBody;
  const run = runs[0];
  if (!run) throw new Error('the relay has no run');
  return run;
}

/** One scripted volunteer commits `rounds` rounds and leaves; resolves once no round is open. */
async function commitRounds(name: string, rounds: number): Promise<void> {
  const volunteer = await startScriptedVolunteer(relay.url, name, { trainMs: 100 });
  await volunteer.commits(rounds);
  volunteer.close();
  // A round opened before it left ends at its deadline (1.5 s); none opens without members.
  for (let waited = 0; (await runSummary()).roundInProgress !== null; waited += 200) {
    if (waited > 30_000) throw new Error('a round stayed open after its only member left');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  const webDir = await buildPages();
  relay = await startTestRelay(await smallDataset(6), { webDir });
  await commitRounds('alice', 1);
  boardUrl = `${relay.url.replace('127.0.0.1', 'localhost')}/leaderboard?sample-bytes=${SAMPLE_BYTES}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_WEBGPU_ARGS,
  });
  await mkdir(SCREENSHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await relay?.close();
});

const panel = (page: Page) =>
  page.evaluate(() => {
    const root = document.getElementById('sample') as HTMLElement;
    const continuation = document.getElementById('sample-continuation') as HTMLElement;
    return {
      state: root.dataset.state,
      modelHash: root.dataset.modelHash,
      prompt: document.getElementById('sample-shown-prompt')?.textContent ?? '',
      tokens: continuation.dataset.tokens ? continuation.dataset.tokens.split(',').map(Number) : [],
      status: document.getElementById('sample-status')?.textContent ?? '',
    };
  });

/** Resolves with the panel once it shows a whole sample written with `modelHash`. */
async function sampleBy(page: Page, modelHash: string) {
  await expect
    .poll(
      async () => {
        const shown = await panel(page);
        return shown.state === 'written' && shown.modelHash === modelHash ? 'written' : shown.status;
      },
      { timeout: 120_000, interval: 500 },
    )
    .toBe('written');
  return panel(page);
}

/** Catches what a page logs as an error or throws. */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  return problems;
}

it('writes on the GPU what the CPU reference predicts, and writes again when a round commits', async () => {
  const page = await browser.newPage({ viewport: { width: 900, height: 1200 } });
  const problems = watchProblems(page);
  const checkpointFetches: number[] = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/checkpoint')) checkpointFetches.push(Date.now());
  });
  await page.goto(boardUrl);

  // On load: a sample of the newest checkpoint, the prompt apart from what the model wrote.
  const first = await runSummary();
  const firstHash = first.checkpoint?.modelHash ?? '';
  const loaded = await sampleBy(page, firstHash);
  const prompt = await page.inputValue('#sample-prompt');
  expect(loaded.prompt).toBe(prompt);
  expect(loaded.tokens).toHaveLength(SAMPLE_BYTES);
  expect(loaded.status).toMatch(/^Written by the weights after round \d+ \(model hash [0-9a-f]{16}…\)/);

  // Temperature 0: the GPU model's first byte is the CPU reference's argmax for this checkpoint.
  await page.locator('#sample-temperature').evaluate((input: HTMLInputElement) => {
    input.value = '0';
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
  expect(await page.textContent('#sample-temperature-value')).toBe('0 (always the likeliest byte)');
  await page.click('#sample-generate');
  await expect.poll(async () => (await panel(page)).status, { timeout: 60_000 }).toMatch(/temperature 0 /);
  const greedy = await panel(page);
  expect(greedy.tokens).toHaveLength(SAMPLE_BYTES);

  const served = await relay.app.request(`/api/runs/${first.id}/checkpoint`);
  expect(served.headers.get('etag')).toBe(`"${firstHash}"`); // no round committed meanwhile
  const read = paramsFromSafetensors(SCRIPTED_MODEL, new Uint8Array(await served.arrayBuffer()));
  if (!read.ok) throw new Error(read.error.message);
  const promptTokens = byteTokenizer.encode(prompt);
  const T = promptTokens.length;
  const V = SCRIPTED_MODEL.vocabSize;
  const logits = new CpuGpt(SCRIPTED_MODEL, read.params)
    .forward(promptTokens, null, 1, T)
    .logits.subarray((T - 1) * V, T * V);
  const want = argmax(logits);
  const runnerUp = Math.max(...Array.from(logits).filter((_, i) => i !== want));
  console.log(
    `first byte: GPU ${greedy.tokens[0]}, CPU ${want} (margin ${(logits[want] as number) - runnerUp})`,
  );
  expect(greedy.tokens[0]).toBe(want);

  // The checkpoint is fetched once per model hash, however many polls see it.
  const sinceFirstFetch = Date.now() - (checkpointFetches[0] ?? Date.now());
  await page.waitForTimeout(Math.max(0, 2 * POLL_MS + 500 - sinceFirstFetch));
  expect(checkpointFetches).toHaveLength(1);

  // Another commit: a new model hash, fetched once, and the prompt written again with it.
  await commitRounds('bob', 1);
  const secondHash = (await runSummary()).checkpoint?.modelHash ?? '';
  expect(secondHash).not.toBe(firstHash);
  const refreshed = await sampleBy(page, secondHash);
  expect(refreshed.prompt).toBe(prompt);
  expect(refreshed.tokens).toHaveLength(SAMPLE_BYTES);
  expect(checkpointFetches).toHaveLength(2);

  await page.locator('#sample').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SCREENSHOTS}leaderboard-sample.png`, fullPage: true });
  expect(problems).toEqual([]);
  await page.close();
}, 300_000);

it('shows a checkpoint it cannot read as a plain error, and the board carries on', async () => {
  const page = await browser.newPage();
  await page.route('**/checkpoint', (route) =>
    route.fulfill({ status: 200, contentType: 'application/octet-stream', body: 'not safetensors' }),
  );
  await page.goto(boardUrl);
  await expect
    .poll(async () => (await panel(page)).status, { timeout: 60_000 })
    .toMatch(/^Could not load the weights after round \d+: ERR_SAFETENSORS_\w+: /);
  expect((await panel(page)).state).toBe('failed');
  await expect.poll(() => page.textContent('#run')).toMatch(/^Run [\w-]+: \d+ rounds? committed/);
  await expect.poll(() => page.textContent('#updated')).toMatch(/^updated \d+ s ago$/);
  await page.close();
});

it('says plainly that a browser without WebGPU cannot run the model, and the board carries on', async () => {
  const page = await browser.newPage();
  const problems = watchProblems(page);
  await page.addInitScript(() => {
    // As in a browser that never shipped WebGPU: no navigator.gpu at all.
    delete (Navigator.prototype as { gpu?: unknown }).gpu;
  });
  await page.goto(boardUrl);
  await expect
    .poll(async () => (await panel(page)).status)
    .toMatch(/^Your browser has no WebGPU, so it can't run the model here; use Chrome or Edge/);
  expect((await panel(page)).state).toBe('unsupported');
  expect(await page.isDisabled('#sample-generate')).toBe(true);
  expect(await page.isHidden('#sample-text')).toBe(true);
  await expect.poll(() => page.textContent('#run')).toMatch(/^Run [\w-]+: \d+ rounds? committed/);
  await expect.poll(() => page.textContent('#updated')).toMatch(/^updated \d+ s ago$/);
  expect(problems).toEqual([]);
  await page.close();
});
