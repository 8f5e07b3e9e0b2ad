// A relay killed at any instant loses nothing it acknowledged and never writes a round twice:
// a child process commits rounds into a PGlite folder and prints `ack <round>` after each
// commit resolves; this test SIGKILLs it at seeded random moments (while it starts, migrates,
// retries its last round, or commits), restarts it, and finally audits the whole database,
// opened straight after the last kill.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createRng } from '../../../protocol/rng.ts';
import { Ledger } from '../../../relay/ledger/ledger.ts';
import { loadOrCreateRelayKey } from '../../../relay/ledger/relay-signer.ts';
import { openPglite } from '../../../relay/ledger/sql-pglite.ts';
import { CRASH_PEERS, CRASH_RUN } from './fixtures.ts';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const KILLS = 8;
const SEED = 20250101;

interface Child {
  readonly process: ChildProcess;
  /** Resolves on the child's `ready` line. */
  readonly ready: Promise<void>;
  /** Resolves with the exit code (null when killed) once the process is gone. */
  readonly exited: Promise<number | null>;
}

function startChild(dataDir: string, keyFile: string, target: number, acked: Set<number>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, keyFile, String(target)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  let buffered = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  child.stdout?.on('data', (chunk) => {
    buffered += String(chunk);
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const [word, value] = line.split(' ');
      if (word === 'ack') acked.add(Number(value));
      if (word === 'ready') onReady();
    }
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      if (code !== null && code !== 0) console.error(stderr);
      onReady();
      resolve(code);
    });
  });
  return { process: child, ready, exited };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Nine PGlite starts in fresh processes and one here: about 45 s alone on 2 cores, more beside other tests. */
const TIMEOUT_MS = 240_000;

describe('ledger crash safety', () => {
  let dir = '';
  afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  it('keeps every acknowledged round, once, through repeated SIGKILLs', { timeout: TIMEOUT_MS }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'potluck-crash-'));
    const dataDir = join(dir, 'ledger');
    const keyFile = join(dir, 'relay-key.pkcs8');
    const acked = new Set<number>();
    // The first start makes the data folder (slow: initdb) and commits nothing.
    expect(await startChild(dataDir, keyFile, -1, acked).exited).toBe(0);

    const rng = createRng(SEED);
    for (let kill = 0; kill < KILLS; kill++) {
      const child = startChild(dataDir, keyFile, 1_000_000, acked);
      // A third of the kills land anywhere in start-up (open, migrate, the retried round),
      // the rest while rounds are being committed.
      if (kill % 3 === 0) await sleep(rng.nextBelow(3000));
      else await child.ready.then(() => sleep(rng.nextBelow(1000)));
      child.process.kill('SIGKILL');
      const code = await child.exited;
      // Exiting by itself before the kill would mean it failed (e.g. a round written twice).
      expect(code === null || code === 0).toBe(true);
    }
    expect(acked.size).toBeGreaterThan(0);

    const sql = await openPglite(dataDir);
    try {
      const ledger = await Ledger.open(sql, await loadOrCreateRelayKey(keyFile));
      // Opening the folder after the last kill is itself a crash recovery.
      const rounds = (await ledger.rounds(CRASH_RUN)).map((r) => r.round);
      for (const round of acked) expect(rounds).toContain(round);
      // Each restart resumed at lastRound + 1: no gap, no repeat.
      const committed = rounds.length;
      expect(committed).toBeGreaterThanOrEqual(acked.size);
      expect(rounds).toEqual(Array.from({ length: committed }, (_, i) => i));
      const [counts] = await sql.query<{ entries: number; keys: number; rounds: number }>(
        `select count(*)::int as entries, count(distinct idempotency_key)::int as keys,
                count(distinct round)::int as rounds from ledger_entries`,
      );
      expect(counts).toEqual({
        entries: committed * CRASH_PEERS,
        keys: committed * CRASH_PEERS,
        rounds: committed,
      });
      expect(await ledger.verifyChain()).toMatchObject({ ok: true, height: committed * CRASH_PEERS });
    } finally {
      await sql.close();
    }
  });
});
