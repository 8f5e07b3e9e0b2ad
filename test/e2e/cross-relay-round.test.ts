// Two relays of one run on one PostgreSQL: a volunteer page loaded from the first and a headless
// Node volunteer connected to the second train in the same rounds (every round needs both), over
// WebRTC signaled through different relays, and both are credited in one round of the one
// ledger. A screenshot of the page lands in test/e2e/screenshots/cross-relay-page.png.
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright';
import { afterAll, describe, expect, it } from 'vitest';
import type { RelayHandle } from '../../relay/server.ts';
import { CHROMIUM_WEBGPU_ARGS } from '../../vitest.config.ts';
import { type NodeVolunteer, startNodeVolunteer } from '../../web/node/node-volunteer.ts';
import { buildPages } from '../helpers/built-pages.ts';
import { freshClusterDatabase, POSTGRES_URL, stateDirSharingKey } from '../helpers/cluster-database.ts';
import { nodeContext } from '../helpers/node-context.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';
import { memoryTuneCache } from '../helpers/tune-cache-memory.ts';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
const MODEL = { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 1, nHead: 2 };

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

describe.skipIf(!POSTGRES_URL)('one run, two relays', () => {
  it('trains a page on one relay and a headless volunteer on the other in one round', async () => {
    const db = await freshClusterDatabase();
    cleanup.push(() => db.dispose());
    const webDir = await buildPages();
    const dataset = await smallDataset(8);
    const overrides = {
      model: MODEL,
      inner: { batchSize: 4, seqLen: 32, learningRate: 1e-2, warmupRounds: 0 },
      round: { innerSteps: 6, compression: { randomK: 0.5, topK: 0.5, bits: 4, blockSize: 64 } },
      schedule: {
        minPeers: 2,
        gatherMs: 1_000,
        minRoundMs: 60_000,
        maxRoundMs: 60_000,
        hashTimeoutMs: 30_000,
      },
    };
    const firstDir = await mkdtemp(join(tmpdir(), 'potluck-cluster-'));
    const pageRelay: RelayHandle = await startTestRelay(dataset, {
      stateDir: firstDir,
      databaseUrl: db.url,
      webDir,
      overrides,
    });
    cleanup.push(() => pageRelay.close());
    const nodeRelay = await startTestRelay(dataset, {
      stateDir: await stateDirSharingKey(firstDir),
      databaseUrl: db.url,
      overrides,
    });
    cleanup.push(() => nodeRelay.close());
    await expect.poll(() => pageRelay.run.leading || nodeRelay.run.leading, { timeout: 30_000 }).toBe(true);

    const node: NodeVolunteer = await startNodeVolunteer({
      relay: nodeRelay.url,
      name: 'headless',
      stateDir: await mkdtemp(join(tmpdir(), 'potluck-headless-')),
      ctx: await nodeContext(),
      tuneCache: memoryTuneCache(),
    });
    cleanup.push(() => node.stop());
    const browser: Browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_WEBGPU_ARGS,
    });
    cleanup.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
    await page.goto(`${pageRelay.url.replace('127.0.0.1', 'localhost')}/`); // a secure context
    await expect.poll(() => page.textContent('#gpu'), { timeout: 60_000 }).toMatch(/^GPU: /);
    const pageKey = (await page.textContent('#peer-id')) ?? '';
    await page.click('#donate');

    // A round credited to both, read from the ledger through either relay.
    const creditedTogether = async () => {
      const { entries } = (await (await fetch(`${nodeRelay.url}/api/ledger?after=0&limit=1000`)).json()) as {
        entries: { peerKey: string; round: number; kind: string }[];
      };
      const byRound = new Map<number, Set<string>>();
      for (const e of entries)
        if (e.kind.startsWith('credit'))
          byRound.set(e.round, (byRound.get(e.round) ?? new Set()).add(e.peerKey));
      return [...byRound.values()].some((keys) => keys.has(pageKey) && keys.has(node.peerId));
    };
    await expect.poll(creditedTogether, { timeout: 400_000, interval: 1_000 }).toBe(true);
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOTS}cross-relay-page.png`, fullPage: true });
    // Each relay holds its own volunteer; one of them decides for both.
    const health = await Promise.all(
      [pageRelay, nodeRelay].map(
        async (r) => (await (await fetch(`${r.url}/healthz`)).json()) as { peers: number; leading: boolean },
      ),
    );
    expect(health.map((h) => h.peers)).toEqual([1, 1]);
    expect(health.filter((h) => h.leading)).toHaveLength(1);
  }, 600_000);
});
