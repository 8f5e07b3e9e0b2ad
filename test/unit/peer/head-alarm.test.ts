// The headless volunteer keeps the newest signed ledger head in its state folder: a relay that
// serves an older or a different head, even after the volunteer restarts, is called out.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileVolunteerStore } from '../../../web/node/file-store.ts';
import { headAlarm } from '../../../web/node/head-alarm.ts';

const hash = (n: number, fork = 0) => (n + fork * 1_000_000).toString(16).padStart(64, '0');
const RELAY = 'http://relay.invalid';

describe('headless head alarm', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'potluck-head-alarm-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** A volunteer process: a store on the folder and an alarm collecting warnings. */
  async function volunteer(
    getJson: (url: string) => Promise<unknown> = () => Promise.reject(new Error('offline')),
  ) {
    const warnings: string[] = [];
    const alarm = headAlarm(await FileVolunteerStore.open(dir), RELAY, (w) => warnings.push(w), getJson);
    return { alarm, warnings };
  }

  it('warns when the head goes backwards, across a restart', async () => {
    const first = await volunteer();
    await first.alarm({ height: 7, hash: hash(7) });
    expect(first.warnings).toEqual([]);
    const restarted = await volunteer();
    await restarted.alarm({ height: 4, hash: hash(4) });
    expect(restarted.warnings).toHaveLength(1);
    expect(restarted.warnings[0]).toMatch(/went backwards.*height 7.*height 4/);
  });

  it('warns when the same height comes back with another hash (a fork)', async () => {
    const { alarm, warnings } = await volunteer();
    await alarm({ height: 3, hash: hash(3) });
    await alarm({ height: 3, hash: hash(3, 1) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/forked/);
  });

  it('checks a higher head against the served chain and keeps it only when it holds the seen one', async () => {
    const asked: string[] = [];
    const { alarm, warnings } = await volunteer(async (url) => {
      asked.push(url);
      throw new Error('the ledger API is down');
    });
    await alarm({ height: 2, hash: hash(2) });
    await alarm({ height: 5, hash: hash(5) }); // cannot be checked: not kept, no verdict
    expect(asked).toEqual([`${RELAY}/api/ledger?after=1&limit=1`]);
    expect(warnings).toEqual([]);
    const store = await FileVolunteerStore.open(dir);
    expect(await store.seenHead()).toEqual({ height: 2, hash: hash(2) });
  });

  it('takes a damaged head file as no head seen', async () => {
    await writeFile(join(dir, 'seen-head.json'), '{"height": 9, "hash": ');
    const { alarm, warnings } = await volunteer();
    await alarm({ height: 1, hash: hash(1) });
    expect(warnings).toEqual([]);
    expect(await (await FileVolunteerStore.open(dir)).seenHead()).toEqual({ height: 1, hash: hash(1) });
  });
});
