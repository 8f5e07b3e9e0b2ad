// Credit only for verified work, against the real relay over its real protocol: two volunteers
// that train for real on the CPU (kernels/reference/inner-loop.ts) beside free-riders that send
// zeros, noise, the last round's counted frame of another member, or an honest member's frame
// of this very round, one that claims a huge speed, and one that never answers a check. Every
// identity starts on probation, so every contribution is checked: the honest ones' provisional
// credit is settled as verified, every free-rider's is forfeited and its key banned.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CommitRecord } from '../../../relay/rounds/coordinator.ts';
import type { RelayHandle } from '../../../relay/server.ts';
import { type ScriptedVolunteer, startScriptedVolunteer } from '../../helpers/scripted-volunteer.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';

let relay: RelayHandle;
const records: CommitRecord[] = [];
const volunteers: ScriptedVolunteer[] = [];

beforeAll(async () => {
  relay = await startTestRelay(await smallDataset(), {
    overrides: {
      inner: { batchSize: 2 },
      round: { innerSteps: 2 },
      // Everyone is in by the first round; the honest pair runs on alone once the riders are banned.
      schedule: { minPeers: 2, gatherMs: 1_500, minRoundMs: 4_000, maxRoundMs: 4_000 },
      verification: { probationRounds: 2, checkProbability: 0.5, revealMs: 3_000, maxUnansweredChecks: 1 },
    },
    onCommitted: (record) => records.push(record),
  });
});

afterAll(async () => {
  for (const v of volunteers) v.close();
  await relay?.close();
});

it('settles honest work as verified, and forfeits and bans every free-rider', async () => {
  const alice = await startScriptedVolunteer(relay.url, 'alice', { work: 'cpu' });
  const bob = await startScriptedVolunteer(relay.url, 'bob', { work: 'cpu' });
  volunteers.push(alice, bob);
  const riders = {
    zero: await startScriptedVolunteer(relay.url, 'zero', { work: 'zero' }),
    random: await startScriptedVolunteer(relay.url, 'random', { work: 'random' }),
    stale: await startScriptedVolunteer(relay.url, 'stale', { work: 'stale' }),
    copy: await startScriptedVolunteer(relay.url, 'copy', { work: 'copy', copyOf: alice }),
    speed: await startScriptedVolunteer(relay.url, 'speed', { work: 'zero', tokensPerSec: 1e9 }),
    silent: await startScriptedVolunteer(relay.url, 'silent', { work: 'random', ignoreChecks: true }),
  };
  volunteers.push(...Object.values(riders));
  await alice.commits(4, 120_000);
  // Each rider is checked in the first round it is counted in, and its ban is in the ledger at
  // the commit after: on a loaded machine a late joiner's may still be on the way.
  const recordedBans = () => new Set(records.flatMap((r) => r.bans.map((b) => b.peerKey)));
  await expect
    .poll(() => Object.values(riders).every((r) => recordedBans().has(r.identity.publicKey)), {
      timeout: 120_000,
      interval: 250,
    })
    .toBe(true);

  const settled = (peer: string, outcome: 'verified' | 'forfeited') =>
    records.flatMap((r) => r.settlements).filter((s) => s.peerKey === peer && s.outcome === outcome);
  const banned = new Set(records.flatMap((r) => r.bans.map((b) => b.peerKey)));
  const excluded = (relay.run.coordinator as { excludedPeers: ReadonlySet<string> }).excludedPeers;
  for (const honest of [alice, bob]) {
    expect(settled(honest.identity.publicKey, 'verified').length).toBeGreaterThan(0);
    expect(settled(honest.identity.publicKey, 'forfeited')).toEqual([]);
    expect(excluded.has(honest.identity.publicKey)).toBe(false);
  }
  for (const [name, rider] of Object.entries(riders)) {
    const key = rider.identity.publicKey;
    console.log(
      `${name}: ${settled(key, 'verified').length} verified, ${settled(key, 'forfeited').length} forfeited, banned ${banned.has(key)}`,
    );
    expect(settled(key, 'verified'), name).toEqual([]);
    expect(excluded.has(key), name).toBe(true);
    expect(banned.has(key), name).toBe(true);
  }
  // The ledger says the same: the leaderboard's verified column, bans marked, nothing minted.
  const board = new Map(
    (await relay.run.ledger.leaderboard(relay.run.id)).map((row) => [row.publicKey, row]),
  );
  for (const honest of [alice, bob]) {
    const row = board.get(honest.identity.publicKey);
    console.log(
      `${honest.identity.publicKey.slice(0, 8)}: ${row?.verifiedCredits} verified, ${row?.provisionalCredits} provisional`,
    );
    expect(row?.verifiedCredits).toBeGreaterThan(0);
    expect(row?.banned).toBe(false);
  }
  for (const rider of Object.values(riders)) {
    const row = board.get(rider.identity.publicKey);
    expect(row?.verifiedCredits ?? 0).toBe(0);
    expect(row?.provisionalCredits ?? 0).toBe(0);
    expect(row?.banned).toBe(true);
  }
  expect(await relay.run.ledger.verifyChain()).toMatchObject({ ok: true });
  // No rider was counted after it was banned, and honest work kept the run going.
  const last = records.at(-1) as CommitRecord;
  for (const rider of Object.values(riders))
    expect(last.credits.map((c) => c.peerKey)).not.toContain(rider.identity.publicKey);
  expect(last.credits.map((c) => c.peerKey).sort()).toEqual(
    [alice.identity.publicKey, bob.identity.publicKey].sort(),
  );
});
