// `npm run relay-key -- rotate` on a stopped relay's state folder, then the relay started again:
// it starts with the new key, its ledger verifies (startRelay refuses one that does not), the
// leaderboard's audit through the API follows the rotation, and it commits on. The retired key
// file put back, or a key the ledger never had, is refused with a message that says so.
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseRelayKeyArgs, runRelayKey } from '../../../relay/cli/relay-key.ts';
import { RELAY_KEY_FILE, readRelayKey } from '../../../relay/ledger/relay-signer.ts';
import { auditChain } from '../../../web/src/leaderboard/chain-audit.ts';
import { PublicApi } from '../../../web/src/leaderboard/public-api.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';
import { credit, roundInput } from '../ledger/fixtures.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;

describe('npm run relay-key', () => {
  it('reads its command and options', () => {
    expect(parseRelayKeyArgs(['rotate', '--state', '/tmp/s'], {})).toEqual({
      command: 'rotate',
      stateDir: '/tmp/s',
      databaseUrl: null,
    });
    expect(parseRelayKeyArgs(['show'], { DATABASE_URL: 'postgres://db' })).toMatchObject({
      command: 'show',
      databaseUrl: 'postgres://db',
    });
    expect(parseRelayKeyArgs(['--help'])).toBeNull();
    for (const argv of [[], ['spin'], ['rotate', 'now'], ['rotate', '--force']])
      expect(() => parseRelayKeyArgs(argv, {})).toThrow();
  });

  it('rotates a stopped relay’s key; the relay starts again with it and verifies', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'potluck-relay-key-'));
    const keyFile = join(stateDir, RELAY_KEY_FILE);
    const dataset = await smallDataset();
    // PGlite in the state folder, as `npm start` keeps it.
    const first = await startTestRelay(dataset, { stateDir, databaseUrl: null });
    const runId = first.run.id;
    const oldKey = first.run.relayKey;
    // Rounds that commit θ_0, whose state the relay keeps: a restarted relay resumes from it.
    const init = first.run.coordinator.lastCommitted.modelHash;
    const round = (r: number, credits: ReturnType<typeof credit>[]) => ({
      ...roundInput(runId, r, credits),
      modelHash: init,
    });
    const { receipts } = await first.run.ledger.commitRound(round(0, [credit(0, 10), credit(1, 20)]));
    await first.close();

    // The command as an operator runs it (package.json's script).
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'relay/cli/relay-key.ts', 'rotate', '--state', stateDir],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: '' } },
    );
    expect(stdout).toMatch(/Rotated the relay key/);
    expect(stdout).toMatch(/recorded at {3}height 3, signed by both keys/);
    const newKey = (await readRelayKey(keyFile))?.publicKey;
    expect(newKey).toBeDefined();
    expect(newKey).not.toBe(oldKey);

    const second = await startTestRelay(dataset, { stateDir, databaseUrl: null });
    try {
      expect(second.run.relayKey).toBe(newKey);
      await second.run.ledger.commitRound(round(1, [credit(0, 30)]));
      const api = new PublicApi(async (path) => (await second.app.request(path)).json());
      const keys = await api.keys();
      expect(keys).toMatchObject({
        relayKey: newKey,
        rotations: [{ height: 3, fromKey: oldKey, toKey: newKey }],
      });
      const audit = await auditChain({
        page: (a, l) => api.ledger(a, l),
        rounds: (a, l) => api.rounds(a, l),
        keys: () => api.keys(),
        firstKey: oldKey,
      });
      expect(audit).toMatchObject({ ok: true, height: 4, rounds: 2 });
      // A receipt from before the rotation still names, and verifies against, the old key.
      expect(receipts.map((r) => r.relayKey)).toEqual([oldKey, oldKey]);
    } finally {
      await second.close();
    }

    const lines: string[] = [];
    await runRelayKey({ command: 'show', stateDir, databaseUrl: null }, (line) => lines.push(line));
    expect(lines).toEqual([`relay key  ${newKey}  (${keyFile})`, `height 3: ${oldKey} → ${newKey}`]);

    // The retired key put back in place.
    const [retired] = (await readdir(stateDir)).filter((f) => f.startsWith(`${RELAY_KEY_FILE}.retired-`));
    await copyFile(join(stateDir, retired as string), keyFile);
    await expect(startTestRelay(dataset, { stateDir, databaseUrl: null })).rejects.toMatchObject({
      code: 'ERR_RELAY_KEY_RETIRED',
    });
    // A relay given a state folder without the key (it makes its own).
    await unlink(keyFile);
    await expect(startTestRelay(dataset, { stateDir, databaseUrl: null })).rejects.toMatchObject({
      code: 'ERR_RELAY_KEY_MISMATCH',
      message: expect.stringMatching(
        /this relay's key \S+ is not the ledger's \(\S+\): copy relay-key.pkcs8 from the relay that made the ledger, or rotate/,
      ),
    });
  }, 120_000);
});
