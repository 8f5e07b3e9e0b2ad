// Nothing acknowledged is lost: the relay runs as its own process (`npm start`'s entry, the
// embedded PGlite in a state folder), three volunteers commit rounds as fast as they can, and
// the relay is killed with SIGKILL at random moments, many times. A receipt in a volunteer's
// hand is an acknowledged credit. After every restart: each one is in the ledger exactly
// once, the run resumed from its last committed round, and the hash chain verifies.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import type { Receipt } from '../../../protocol/ledger-signatures.ts';
import { createRng } from '../../../protocol/rng.ts';
import { generateKeyPair, identityFromKeyPair, type PeerIdentity } from '../../../web/src/peer/identity.ts';
import { auditLedger } from '../../helpers/ledger-audit.ts';
import { freePort, killRelay, startRelayProcess } from '../../helpers/relay-process.ts';
import { type ScriptedVolunteer, startScriptedVolunteer } from '../../helpers/scripted-volunteer.ts';
import { SCRIPTED_MODEL, smallDataset, TEST_STAMP_BITS } from '../../helpers/test-relay.ts';

const KILLS = 8;

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
      // Scripted peers send made-up frames: the relay's work checks would ban them.
      verification: { probationRounds: 0, checkProbability: 0 },
      identity: { stampBits: TEST_STAMP_BITS },
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

  // A failed expectation must not leave a relay process behind.
  let running: Awaited<ReturnType<typeof startRelayProcess>> | null = null;
  onTestFinished(async () => {
    if (running) await killRelay(running);
  });
  for (let kill = 0; kill <= KILLS; kill++) {
    const relay = await startRelayProcess(args);
    running = relay;
    const health = (await (await fetch(`${relay.url}/healthz`)).json()) as { committedRound: number };
    // Restart resumes from the last committed round, never before an acknowledged one.
    expect(health.committedRound).toBeGreaterThanOrEqual(lastRoundSeen);
    lastRoundSeen = health.committedRound;
    if (kill === KILLS) {
      await auditLedger(relay.url, acknowledged);
      relay.child.kill('SIGTERM');
      await new Promise((resolve) => relay.child.once('exit', resolve));
      break;
    }
    const volunteers: ScriptedVolunteer[] = await Promise.all(
      identities.map((id, i) => startScriptedVolunteer(relay.url, `v${i}`, {}, id)),
    );
    await Promise.all(volunteers.map((v) => v.commits(2, 60_000)));
    // A receipt follows its commit message: on a loaded machine it may still be on the way.
    for (let wait = 0; wait < 200 && volunteers.some((v) => v.receipts.length < 2); wait++)
      await new Promise((resolve) => setTimeout(resolve, 25));
    // Rounds commit every few milliseconds now: a kill lands before, during or after one.
    await new Promise((resolve) => setTimeout(resolve, 50 + rng.nextBelow(400)));
    await killRelay(relay);
    for (const v of volunteers) {
      acknowledged.push(...(v.receipts as Receipt[]));
      lastRoundSeen = Math.max(lastRoundSeen, v.held.round);
      v.close();
    }
  }
  expect(acknowledged.length).toBeGreaterThan(KILLS * 6);
}, 600_000);
