// Two relays on one PostgreSQL serve one run: a volunteer on each trains in the same rounds,
// the leader's coordinator deciding for both; when the leader shuts down the other relay takes
// the run over from the database and the rounds go on with no round committed twice.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Coordinator } from '../../../relay/rounds/coordinator.ts';
import type { RelayHandle } from '../../../relay/server.ts';
import { freshClusterDatabase, POSTGRES_URL, stateDirSharingKey } from '../../helpers/cluster-database.ts';
import { startScriptedVolunteer } from '../../helpers/scripted-volunteer.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';

const TIMINGS = { leaseMs: 1_000, heartbeatMs: 250, staleMs: 1_000 };

describe.skipIf(!POSTGRES_URL)('two relays, one run', () => {
  let dataset: string;
  beforeAll(async () => {
    dataset = await smallDataset();
  });
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  });

  it('seats volunteers of both relays in one round and survives the leader leaving', async () => {
    const db = await freshClusterDatabase();
    cleanup.push(() => db.dispose());
    const firstDir = await mkdtemp(join(tmpdir(), 'potluck-cluster-'));
    const a: RelayHandle = await startTestRelay(dataset, {
      stateDir: firstDir,
      databaseUrl: db.url,
      cluster: TIMINGS,
    });
    cleanup.push(() => a.close());
    const b = await startTestRelay(dataset, {
      stateDir: await stateDirSharingKey(firstDir),
      databaseUrl: db.url,
      cluster: TIMINGS,
    });
    cleanup.push(() => b.close());
    await expect.poll(() => a.run.leading || b.run.leading, { timeout: 10_000 }).toBe(true);
    const [leader, follower] = a.run.leading ? [a, b] : [b, a];

    const onLeader = await startScriptedVolunteer(leader.url, 'on-leader');
    const onFollower = await startScriptedVolunteer(follower.url, 'on-follower');
    // Signs two frames for one round through the follower: the leader proves it and excludes it.
    const cheat = await startScriptedVolunteer(follower.url, 'cheat', { equivocate: true });
    cleanup.push(async () => {
      for (const v of [onLeader, onFollower, cheat]) v.close();
    });
    await Promise.all([onLeader.commits(2, 30_000), onFollower.commits(2, 30_000)]);
    expect((leader.run.coordinator as Coordinator).excludedPeers.has(cheat.identity.publicKey)).toBe(true);
    // A name is the run's: the follower's volunteer's cannot be taken on the leader, in any case.
    await expect(startScriptedVolunteer(leader.url, 'ON-FOLLOWER')).rejects.toThrow(
      /ERR_SWARM_NAME_TAKEN|goes by/,
    );
    // The routes that need the coordinator answer through the follower too.
    const summary = (await (await fetch(`${follower.url}/api/runs`)).json()) as { runs: { peers: number }[] };
    expect(summary.runs[0]?.peers).toBe(3);
    const together = onFollower.messages.some(
      (m) => m.type === 'assignment' && m.group.some((g) => g.peer === onLeader.identity.publicKey),
    );
    expect(together).toBe(true);
    // The welcome named both relays, this one first: where to go if it stops.
    expect(onFollower.client.relays[0]).toBe(follower.url);
    expect(onFollower.client.relays).toContain(leader.url);

    // A relay that starts later is named to the volunteers already there.
    const late = await startTestRelay(dataset, {
      stateDir: await stateDirSharingKey(firstDir),
      databaseUrl: db.url,
      cluster: TIMINGS,
    });
    cleanup.push(() => late.close());
    const told = () =>
      onFollower.messages.some(
        (m) => m.type === 'relays' && m.relays.includes(late.url) && m.relays[0] === follower.url,
      );
    await expect.poll(told, { timeout: 10_000 }).toBe(true);

    // The leader goes away; another relay takes the run over and the volunteers train on.
    const before = onFollower.held.round;
    await leader.close();
    await expect.poll(() => follower.run.leading || late.run.leading, { timeout: 10_000 }).toBe(true);
    const successor = follower.run.leading ? follower : late;
    const committed = onFollower.messages.filter((m) => m.type === 'commit').length;
    await onFollower.commits(committed + 2, 30_000);
    expect(onFollower.held.round).toBeGreaterThan(before);
    // The proof outlived its relay: the new leader keeps the cheat out.
    expect((successor.run.coordinator as Coordinator).excludedPeers.has(cheat.identity.publicKey)).toBe(true);
    const seatedLater = cheat.messages.filter((m) => m.type === 'assignment' && m.round > before);
    expect(seatedLater).toEqual([]);
    const rounds = await successor.run.ledger.rounds(successor.run.id);
    expect(new Set(rounds.map((r) => r.round)).size).toBe(rounds.length);
    expect((await successor.run.ledger.verifyChain()).ok).toBe(true);
  }, 90_000);
});
