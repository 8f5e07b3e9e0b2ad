// Nothing acknowledged is lost: the relay runs as its own process (`npm start`'s entry, the
// embedded PGlite in a state folder), three volunteers commit rounds as fast as they can, and
// the relay is killed with SIGKILL at random moments, many times. A receipt in a volunteer's
// hand is an acknowledged credit. After every restart: each one is in the ledger exactly
// once, the run resumed from its last committed round, and the hash chain verifies.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { verifyChainSegment } from '../../../protocol/ledger-chain.ts';
import { GENESIS_HASH } from '../../../protocol/ledger-entry.ts';
import { type Receipt, verifyHead, verifyReceipt } from '../../../protocol/ledger-signatures.ts';
import { createRng } from '../../../protocol/rng.ts';
import { generateKeyPair, identityFromKeyPair, type PeerIdentity } from '../../../web/src/peer/identity.ts';
import { type ScriptedVolunteer, startScriptedVolunteer } from '../../helpers/scripted-volunteer.ts';
import { SCRIPTED_MODEL, smallDataset } from '../../helpers/test-relay.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const KILLS = 8;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface RunningRelay {
  readonly child: ChildProcess;
  readonly url: string;
}

async function startRelayProcess(args: string[]): Promise<RunningRelay> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      './kernels/node/raw-loader.mjs',
      'relay/cli/start.ts',
      '--api-only',
      ...args,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${stderr}`)), 60_000);
    let buffered = '';
    child.stdout?.on('data', (chunk) => {
      buffered += chunk;
      const match = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"relay listening"/.exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}: ${stderr}`)));
  });
  return { child, url };
}

it(`loses no acknowledged credit across ${KILLS} SIGKILLs mid-commit`, async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'potluck-durable-'));
  const dataset = await smallDataset();
  const runFile = join(stateDir, 'run.json');
  await writeFile(
    runFile,
    JSON.stringify({
      dataset,
      model: SCRIPTED_MODEL,
      guard: { validationSequences: 2 },
      schedule: { minPeers: 3, gatherMs: 0, minRoundMs: 2_000, maxRoundMs: 2_000, hashTimeoutMs: 2_000 },
    }),
  );
  const port = await freePort();
  const args = ['--port', String(port), '--host', '127.0.0.1', '--state', stateDir, '--run', runFile];
  const identities: PeerIdentity[] = await Promise.all(
    [0, 1, 2].map(async () => identityFromKeyPair(await generateKeyPair())),
  );
  const acknowledged: Receipt[] = [];
  const rng = createRng(20261201);
  let lastRoundSeen = -1;

  for (let kill = 0; kill <= KILLS; kill++) {
    const relay = await startRelayProcess(args);
    const health = (await (await fetch(`${relay.url}/healthz`)).json()) as { committedRound: number };
    // Restart resumes from the last committed round, never before an acknowledged one.
    expect(health.committedRound).toBeGreaterThanOrEqual(lastRoundSeen);
    lastRoundSeen = health.committedRound;
    if (kill === KILLS) {
      await verifyLedger(relay.url, acknowledged);
      relay.child.kill('SIGTERM');
      await new Promise((resolve) => relay.child.once('exit', resolve));
      break;
    }
    const volunteers: ScriptedVolunteer[] = await Promise.all(
      identities.map((id, i) => startScriptedVolunteer(relay.url, `v${i}`, {}, id)),
    );
    await Promise.all(volunteers.map((v) => v.commits(2, 60_000)));
    // Rounds commit every few milliseconds now: a kill lands before, during or after one.
    await new Promise((resolve) => setTimeout(resolve, 50 + rng.nextBelow(400)));
    relay.child.kill('SIGKILL');
    await new Promise((resolve) => relay.child.once('exit', resolve));
    for (const v of volunteers) {
      acknowledged.push(...(v.receipts as Receipt[]));
      lastRoundSeen = Math.max(lastRoundSeen, v.held.round);
      v.close();
    }
  }
  expect(acknowledged.length).toBeGreaterThan(KILLS * 6);
}, 600_000);

async function verifyLedger(url: string, acknowledged: readonly Receipt[]): Promise<void> {
  const entries: { hash: string; peerKey: string; round: number; height: number }[] = [];
  let after = 0;
  let prevHash = GENESIS_HASH;
  let relayKey = '';
  let head: unknown = null;
  for (;;) {
    const page = (await (await fetch(`${url}/api/ledger?after=${after}&limit=1000`)).json()) as {
      relayKey: string;
      head: unknown;
      entries: { hash: string; peerKey: string; round: number; height: number }[];
    };
    relayKey = page.relayKey;
    head = page.head;
    if (page.entries.length === 0) break;
    const check = await verifyChainSegment(page.entries, prevHash, after === 0 ? undefined : after);
    expect(check).toMatchObject({ ok: true });
    if (check.ok) prevHash = check.hash;
    entries.push(...page.entries);
    after = (page.entries[page.entries.length - 1] as { height: number }).height;
  }
  expect(await verifyHead(head, relayKey)).toBe(true);
  // No credit twice: one entry per (peer, round).
  const keys = entries.map((e) => `${e.peerKey}:${e.round}`);
  expect(new Set(keys).size).toBe(keys.length);
  const byHash = new Map(entries.map((e) => [e.hash, e]));
  for (const receipt of acknowledged) {
    expect(await verifyReceipt(receipt, relayKey)).toBe(true);
    expect(byHash.get(receipt.entry.hash)).toEqual(receipt.entry);
  }
}
