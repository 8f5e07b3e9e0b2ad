// Issue 17: `npm start -- --state DIR --volunteers 1`, the real command, run from another
// working directory with POTLUCK_STATE naming a third folder (the default any writer that
// ignores --state would fall back to): the relay's key and the local volunteer's key and
// autotune choices land in DIR, and nothing is written in the working directory or the default folder.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../helpers/relay-process.ts';
import { SCRIPTED_MODEL, smallDataset, TEST_STAMP_BITS } from '../helpers/test-relay.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Opening PGlite and Dawn (SwiftShader on a GPU-less machine), joining, tuning the kernels. */
const WRITE_TIMEOUT_MS = 120_000;

let relay: ChildProcess | undefined;

afterAll(async () => {
  if (!relay || relay.exitCode !== null) return;
  const exited = new Promise((resolve) => relay?.once('exit', resolve));
  relay.kill('SIGINT');
  await exited;
});

/** Every file under `dir`, relative to it; none when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

it('keeps everything the relay and its local volunteers write in --state', async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'potluck-state-folder-'));
  const stateDir = join(scratch, 'state');
  const defaultDir = join(scratch, 'default-state');
  const workDir = join(scratch, 'cwd');
  await mkdir(workDir);
  const runFile = join(scratch, 'run.json');
  await writeFile(
    runFile,
    JSON.stringify({
      model: SCRIPTED_MODEL,
      identity: { stampBits: TEST_STAMP_BITS },
      schedule: { minPeers: 1 },
    }),
  );
  const port = await freePort();
  relay = spawn(
    process.execPath,
    [
      '--import',
      join(ROOT, 'node_modules/tsx/dist/loader.mjs'),
      '--import',
      join(ROOT, 'kernels/node/raw-loader.mjs'),
      join(ROOT, 'relay/cli/start.ts'),
      '--api-only',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--state',
      stateDir,
      '--run',
      runFile,
      '--dataset',
      await smallDataset(),
      '--volunteers',
      '1',
    ],
    { cwd: workDir, env: { ...process.env, POTLUCK_STATE: defaultDir }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  for (const stream of [relay.stdout, relay.stderr]) stream?.on('data', (chunk) => (output += chunk));

  // The volunteer's key, then its autotune choices once its engine is built on the GPU.
  const volunteerKey = join(stateDir, 'volunteer', 'local-1', 'identity.pkcs8');
  const tuneCache = join(stateDir, 'autotune.json');
  await expect
    .poll(() => existsSync(tuneCache) || relay?.exitCode !== null, {
      timeout: WRITE_TIMEOUT_MS,
      interval: 500,
    })
    .toBe(true);
  expect(existsSync(volunteerKey), output).toBe(true);
  expect(existsSync(tuneCache), output).toBe(true);
  expect(await filesUnder(stateDir)).toEqual(expect.arrayContaining(['relay-key.pkcs8']));
  expect(await filesUnder(workDir)).toEqual([]);
  expect(await filesUnder(defaultDir)).toEqual([]);
}, 180_000);
