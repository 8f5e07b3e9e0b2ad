// Issue 17: the page's table "The swarm right now" listed the tab alone while headless Node
// volunteers trained in its rounds, because they never wrote to the swarm document. Here the
// real `npm run volunteer` (a child process, training on Dawn) joins a real relay, and a reader
// of the document, the SwarmDoc class the page reads through with the relay's member list
// played by the test, lists its row: its name, a training phase, its speed and its traffic.
// When it leaves, its farewell drops the row. Checked at the document level, not in Chromium:
// the page draws roster() as it is (web/src/volunteer/swarm-table.ts), and
// test/e2e/swarm-doc.test.ts covers the browser side of the same document.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RelayHandle } from '../../relay/server.ts';
import { FileVolunteerStore } from '../../web/node/file-store.ts';
import { openNodeSwarmDoc } from '../../web/node/node-swarm-doc.ts';
import { generateKeyPair, identityFromKeyPair } from '../../web/src/peer/identity.ts';
import type { SwarmDoc } from '../../web/src/peer/swarm-doc.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Dawn opened (SwiftShader on a GPU-less machine), joined, kernels tuned, a round under way. */
const TRAINING_TIMEOUT_MS = 150_000;
/** The farewell over an open data channel; far below the 60 s stale window. */
const LEAVE_TIMEOUT_MS = 20_000;

let relay: RelayHandle;
let volunteer: ChildProcess | undefined;
let reader: SwarmDoc | undefined;
let output = '';

beforeAll(async () => {
  relay = await startTestRelay(await smallDataset());
}, 60_000);

afterAll(async () => {
  if (volunteer && volunteer.exitCode === null) {
    const exited = new Promise((resolve) => volunteer?.once('exit', resolve));
    volunteer.kill('SIGINT');
    await exited;
  }
  await reader?.destroy();
  await relay?.close();
});

it(
  "lists a Node volunteer's row as a tab's, and drops it when it leaves",
  async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'potluck-node-swarm-'));
    volunteer = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        './kernels/node/raw-loader.mjs',
        'web/node/volunteer-cli.ts',
        '--relay',
        relay.url,
        '--name',
        'node-ada',
        '--state',
        stateDir,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    for (const stream of [volunteer.stdout, volunteer.stderr])
      stream?.on('data', (chunk) => (output += chunk));

    const keyFile = join(stateDir, 'identity.pkcs8');
    await expect.poll(() => existsSync(keyFile), { timeout: 60_000, interval: 250 }).toBe(true);
    const volunteerKey = (
      await identityFromKeyPair(await (await FileVolunteerStore.open(stateDir)).keyPair())
    ).publicKey;

    reader = openNodeSwarmDoc({
      relay: relay.url,
      runId: relay.run.id,
      identity: await identityFromKeyPair(await generateKeyPair()),
      name: 'reader',
      iceServers: [],
    });
    reader.setMembers([volunteerKey]); // what the relay's assignment would name
    const row = () => reader?.roster().find((r) => r.key === volunteerKey);

    await expect
      .poll(() => (row()?.tokensPerSec ?? 0) > 0 || volunteer?.exitCode !== null, {
        timeout: TRAINING_TIMEOUT_MS,
        interval: 500,
      })
      .toBe(true);
    expect(row(), output).toMatchObject({ name: 'node-ada' });
    const seen = row();
    expect(seen?.tokensPerSec).toBeGreaterThan(0);
    expect(['training', 'exchanging', 'summing', 'committed', 'aborted']).toContain(seen?.phase);
    expect(seen?.loss).toEqual(expect.any(Number));

    volunteer.kill('SIGINT');
    await expect.poll(() => row(), { timeout: LEAVE_TIMEOUT_MS, interval: 250 }).toBeUndefined();
  },
  TRAINING_TIMEOUT_MS + 120_000,
);
