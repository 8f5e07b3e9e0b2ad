// A relay refuses to serve a ledger edited behind its back: startRelay verifies the whole
// chain before it listens, and `npm start` exits non-zero naming ERR_LEDGER_BROKEN, the
// height and the reason.
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openPglite } from '../../../relay/ledger/sql-pglite.ts';
import { relayCommand } from '../../helpers/relay-process.ts';
import { SCRIPTED_MODEL, smallDataset, startTestRelay } from '../../helpers/test-relay.ts';
import { credit, roundInput } from '../ledger/fixtures.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;

it('refuses to start on a ledger whose round metadata was edited with SQL', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'potluck-broken-'));
  const dataset = await smallDataset();
  const runFile = join(stateDir, 'run.json');
  await writeFile(runFile, JSON.stringify({ dataset, model: SCRIPTED_MODEL }));
  // PGlite in the state folder, as `npm start` keeps it.
  const relay = await startTestRelay(dataset, { stateDir, databaseUrl: null });
  const runId = relay.run.id;
  await relay.run.ledger.commitRound(roundInput(runId, 0, [credit(0, 10), credit(1, 20)]));
  await relay.close();

  const sql = await openPglite(join(stateDir, 'db'));
  await sql.query('update rounds set train_loss = 0.01 where round = 0');
  await sql.close();

  await expect(startTestRelay(dataset, { stateDir, databaseUrl: null })).rejects.toMatchObject({
    code: 'ERR_LEDGER_BROKEN',
    message: expect.stringMatching(/height 2: ERR_CHAIN_METADATA/),
  });

  const args = ['--port', '0', '--host', '127.0.0.1', '--state', stateDir, '--run', runFile];
  const child = spawn(process.execPath, relayCommand(args), {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  expect(code).not.toBe(0);
  expect(stderr).toMatch(/ERR_LEDGER_BROKEN: the ledger fails verification at height 2: ERR_CHAIN_METADATA/);
}, 120_000);
