// An identity's stamp is minted once per run and kept with it (web/src/peer/kept-stamp.ts): a
// reconnect or a restart pays nothing, two asks during one mint share it, and a kept stamp that
// no longer checks out (another key, a harder run) is minted afresh.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { checkStamp } from '../../../protocol/identity-stamp.ts';
import { FileVolunteerStore } from '../../../web/node/file-store.ts';
import { keptStamps } from '../../../web/src/peer/kept-stamp.ts';
import { mintStamp } from '../../../web/src/peer/stamp-mint.ts';

const KEY = 'Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE';
const OTHER_KEY = 'cXV4YmF6YmFyZm9vcXV4YmF6YmFyZm9vcXV4YmF6YmE';

it('mints once per run, keeps the stamp on disk, and re-mints one that no longer checks out', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'potluck-stamps-'));
  const mints: string[] = [];
  const counting = (store: FileVolunteerStore, key: string) =>
    keptStamps(store, key, (runId, publicKey, bits) => {
      mints.push(`${runId}@${bits}`);
      return mintStamp(runId, publicKey, bits);
    });
  const stamps = counting(await FileVolunteerStore.open(dir), KEY);
  const [a, b] = await Promise.all([stamps('run-a', 10), stamps('run-a', 10)]);
  expect(a).toBe(b);
  expect(checkStamp('run-a', KEY, a, 10).ok).toBe(true);
  expect(mints).toEqual(['run-a@10']); // two asks, one mint

  // A restart (a new store on the same folder) finds it kept.
  const restarted = counting(await FileVolunteerStore.open(dir), KEY);
  expect(await restarted('run-a', 10)).toBe(a);
  expect(mints).toHaveLength(1);

  // Another run, a harder difficulty, another key: each is minted afresh.
  expect(checkStamp('run-b', KEY, await restarted('run-b', 10), 10).ok).toBe(true);
  const harder = await restarted('run-a', 14);
  expect(checkStamp('run-a', KEY, harder, 14).ok).toBe(true);
  const rekeyed = counting(await FileVolunteerStore.open(dir), OTHER_KEY);
  expect(checkStamp('run-a', OTHER_KEY, await rekeyed('run-a', 14), 14).ok).toBe(true);
  expect(mints).toEqual(['run-a@10', 'run-b@10', 'run-a@14', 'run-a@14']);
});
