// `npm run relay-key -- rotate` on a state folder (relay/ledger/rotate-state-key.ts), on every
// backend: the new key file in place, the old one kept under its retired name, the ledger
// verifying with the new key as startRelay checks it, and a rotation interrupted at either
// step finished or dropped by the next run.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../../relay/ledger/ledger.ts';
import {
  createRelayKeyFile,
  loadOrCreateRelayKey,
  RELAY_KEY_FILE,
  readRelayKey,
} from '../../../relay/ledger/relay-signer.ts';
import { rotateStateKey } from '../../../relay/ledger/rotate-state-key.ts';
import { backends, type TestDatabase } from './backends.ts';
import { credit, roundInput, tickingClock } from './fixtures.ts';

const RUN = 'rotation-run';

describe.each(backends())('$name', (backend) => {
  describe.skipIf(backend.unavailable)('rotating a state folder', () => {
    let fresh: TestDatabase;
    let stateDir: string;
    let keyFile: string;
    const at = (day: number) => () => new Date(Date.UTC(2025, 5, day, 12, 30, 5));
    /** What startRelay does with a state folder: load its key, open the ledger, verify it. */
    const start = async () =>
      (await Ledger.open(fresh.sql, await loadOrCreateRelayKey(keyFile))).assertIntact();

    beforeEach(async () => {
      fresh = await backend.fresh();
      stateDir = await mkdtemp(join(tmpdir(), 'potluck-rotate-'));
      keyFile = join(stateDir, RELAY_KEY_FILE);
    });
    afterEach(async () => {
      await fresh.dispose();
      await rm(stateDir, { recursive: true, force: true });
    });

    it('hands over nothing when no round is committed yet', async () => {
      const first = await loadOrCreateRelayKey(keyFile);
      const done = await rotateStateKey(stateDir, fresh.sql, at(1));
      expect(done).toMatchObject({ from: first.publicKey, rotation: null, resumed: false });
      expect((await readRelayKey(keyFile))?.publicKey).toBe(done.to);
      await start();
    });

    it('makes a new key file, keeps the old one, and the relay starts and verifies with it', async () => {
      const first = await loadOrCreateRelayKey(keyFile);
      const ledger = await Ledger.open(fresh.sql, first, tickingClock());
      await ledger.ensureRun(RUN, { model: 'tiny' });
      await ledger.commitRound(roundInput(RUN, 0, [credit(0, 10)]));
      const done = await rotateStateKey(stateDir, fresh.sql, at(1));
      const retired = `${RELAY_KEY_FILE}.retired-2025-06-01T12-30-05Z`;
      expect(done).toMatchObject({
        from: first.publicKey,
        resumed: false,
        retiredFile: join(stateDir, retired),
      });
      expect(done.rotation).toMatchObject({ height: 2, fromKey: first.publicKey, toKey: done.to });
      expect((await readdir(stateDir)).sort()).toEqual([RELAY_KEY_FILE, retired]);
      expect((await readRelayKey(keyFile))?.publicKey).toBe(done.to);
      expect((await readRelayKey(join(stateDir, retired)))?.publicKey).toBe(first.publicKey);
      await start();
      // The old key file, put back by mistake, is refused with its own message.
      await writeFile(keyFile, await readFile(join(stateDir, retired)));
      await expect(start()).rejects.toMatchObject({ code: 'ERR_RELAY_KEY_RETIRED' });
    });

    it('finishes a rotation the ledger recorded before the files were swapped, and drops one it never recorded', async () => {
      const first = await loadOrCreateRelayKey(keyFile);
      const ledger = await Ledger.open(fresh.sql, first, tickingClock());
      await ledger.ensureRun(RUN, { model: 'tiny' });
      await ledger.commitRound(roundInput(RUN, 0, [credit(0, 10)]));
      // Interrupted between steps 2 and 3 (rotate-state-key.ts).
      const next = await createRelayKeyFile(`${keyFile}.next`);
      await ledger.rotateKey(next);
      await expect(start()).rejects.toMatchObject({ code: 'ERR_RELAY_KEY_RETIRED' });
      const resumed = await rotateStateKey(stateDir, fresh.sql, at(2));
      expect(resumed).toMatchObject({ resumed: true, from: first.publicKey, to: next.publicKey });
      await start();
      // Interrupted between steps 1 and 2: the ledger never heard of this key.
      const stale = await createRelayKeyFile(`${keyFile}.next`);
      const third = await rotateStateKey(stateDir, fresh.sql, at(3));
      expect(third).toMatchObject({ resumed: false, from: next.publicKey });
      expect(third.to).not.toBe(stale.publicKey);
      expect((await readdir(stateDir)).filter((f) => f.endsWith('.next'))).toEqual([]);
      await start();
      const keys = await (await Ledger.open(fresh.sql, first)).rotations();
      expect(keys.map((k) => [k.fromKey, k.toKey])).toEqual([
        [first.publicKey, next.publicKey],
        [next.publicKey, third.to],
      ]);
      // A .next the ledger names, but not as the hand-over from this folder's key: never deleted.
      const [retired] = (await readdir(stateDir)).filter((f) => f.startsWith(`${RELAY_KEY_FILE}.retired-`));
      await writeFile(`${keyFile}.next`, await readFile(join(stateDir, retired as string)));
      await expect(rotateStateKey(stateDir, fresh.sql, at(4))).rejects.toMatchObject({
        code: 'ERR_RELAY_KEY',
      });
      expect((await readdir(stateDir)).filter((f) => f.endsWith('.next'))).toHaveLength(1);
    });
  });
  afterAll(() => backend.shutdown());
});
