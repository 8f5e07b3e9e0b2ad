// The relay's checking policy (relay/rounds/verification.ts), with the redo replaced by a verdict
// the test chooses: who is checked, what a pass, a failure, a made-up state and silence do to
// credit and to the key, that the ledger gets one settlement per peer, and that the backlog is bounded.
import { expect, it } from 'vitest';
import { encodeLocalState } from '../../../protocol/local-state-file.ts';
import { sha256Hex } from '../../../protocol/sha256.ts';
import { ManualClock } from '../../../relay/clock.ts';
import { silentLogger } from '../../../relay/logger.ts';
import {
  type Ban,
  ESTABLISHED_RESERVE,
  MAX_BACKLOG,
  type PendingCheck,
  Verification,
} from '../../../relay/rounds/verification.ts';
import type { WorkVerdict } from '../../../relay/rounds/work-check.ts';

const N = 8;
const config = {
  probationRounds: 2,
  checkProbability: 0.25,
  revealMs: 1_000,
  probationWeight: 0.25,
  maxUnansweredChecks: 2,
};
const state = encodeLocalState({
  m: new Float32Array(N),
  v: new Float32Array(N),
  residual: new Float32Array(N),
  step: 0,
  round: 0,
});

function setup(verdicts: Record<string, WorkVerdict> = {}, random = () => 0.5) {
  const clock = new ManualClock();
  const bans: Ban[] = [];
  const verification = new Verification({
    config,
    totalFloats: N,
    clock,
    log: silentLogger,
    check: async (work) =>
      verdicts[(work as unknown as { peer: string }).peer] ?? { ok: true, agreement: 1, predicted: 0 },
    trainTokens: async () => new Uint16Array(0),
    onBan: (ban) => bans.push(ban),
    random,
  });
  return { clock, bans, verification };
}

async function pending(peer: string, round: number, bytes = state): Promise<PendingCheck> {
  return {
    round,
    peer,
    stateHash: await sha256Hex(bytes),
    shard: { start: 0, end: 1 },
    work: { peer } as unknown as PendingCheck['work'],
  };
}

it('checks every contribution on probation, and a sample after', async () => {
  const { verification } = setup({}, () => 0.5);
  expect(verification.choose(['a', 'b'])).toEqual(expect.arrayContaining(['a', 'b']));
  for (const round of [0, 1]) {
    verification.expect([await pending('a', round)]);
    expect(await verification.reveal('a', round, state)).toEqual({ kind: 'accepted' });
    await verification.idle();
  }
  expect(verification.onProbation('a')).toBe(false);
  // Out of probation, checked when the draw is under checkProbability (0.5 is not).
  expect(verification.choose(['a'])).toEqual([]);
  // Two passed checks, one settlement: the ledger takes one per peer per commit.
  expect(verification.unrecorded().settlements.map((s) => s.outcome)).toEqual(['verified']);
});

it('forfeits and bans on a failed check, on a made-up state, and on a second unanswered check', async () => {
  const { verification, bans, clock } = setup({
    cheat: { ok: false, reason: '12% matches', agreement: 0.12 },
  });
  verification.expect([await pending('cheat', 0)]);
  await verification.reveal('cheat', 0, state);
  await verification.idle();
  // Bytes that hash to what the manifest named but are no state of this model.
  const junk = new Uint8Array([1, 2, 3]);
  verification.expect([await pending('junk', 0, junk)]);
  expect(await verification.reveal('junk', 0, junk)).toMatchObject({
    kind: 'refused',
    code: 'ERR_STATE_FORMAT',
  });
  // Another key's upload, or the wrong bytes, settle nothing.
  verification.expect([await pending('quiet', 0)]);
  expect(await verification.reveal('quiet', 0, junk)).toMatchObject({
    kind: 'refused',
    code: 'ERR_STATE_HASH',
  });
  expect(await verification.reveal('nobody', 0, state)).toMatchObject({
    kind: 'refused',
    code: 'ERR_NO_CHECK',
  });
  // While it waits, the check is there to ask again for a member that reconnects.
  expect(verification.awaiting('quiet')).toEqual([{ round: 0, deadline: clock.now() + config.revealMs }]);
  clock.advance(config.revealMs);
  expect(verification.awaiting('quiet')).toEqual([]);
  expect(bans.map((b) => b.peerKey)).toEqual(['cheat', 'junk']);
  verification.expect([await pending('quiet', 1)]);
  clock.advance(config.revealMs);
  expect(bans.map((b) => b.peerKey)).toEqual(['cheat', 'junk', 'quiet']);
  const { settlements } = verification.unrecorded();
  expect(settlements.every((s) => s.outcome === 'forfeited')).toBe(true);
  expect(settlements.map((s) => s.peerKey).sort()).toEqual(['cheat', 'junk', 'quiet']);
});

it('settles a check that shows no work as forfeited, and bans the second in a row; reasons fit the ledger', async () => {
  const long = `${'x'.repeat(300)}|`;
  const { verification, bans } = setup({
    lazy: { ok: false, inconclusive: true, reason: long, agreement: 1 },
  });
  for (const round of [0, 1]) {
    verification.expect([await pending('lazy', round)]);
    await verification.reveal('lazy', round, state);
    await verification.idle();
  }
  expect(bans.map((b) => b.peerKey)).toEqual(['lazy']);
  const { settlements } = verification.unrecorded();
  expect(settlements.map((s) => s.outcome)).toEqual(['forfeited']);
  for (const { reason } of [...settlements, ...bans]) {
    expect(reason.length).toBeLessThanOrEqual(200);
    expect(reason).not.toContain('|');
  }
});

it('bounds the backlog, established members first', async () => {
  const { verification } = setup({}, () => 0.1);
  for (const round of [0, 1]) {
    verification.expect([await pending('old', round)]);
    await verification.reveal('old', round, state);
    await verification.idle();
  }
  const crowd = Array.from({ length: 2 * MAX_BACKLOG }, (_, i) => `new-${String(i).padStart(3, '0')}`);
  const chosen = verification.choose([...crowd, 'old']);
  // New identities never take the established reserve.
  expect(chosen).toHaveLength(1 + MAX_BACKLOG - ESTABLISHED_RESERVE);
  expect(chosen[0]).toBe('old');
  verification.expect(await Promise.all(chosen.map((peer) => pending(peer, 2))));
  expect(verification.probationRoom()).toBe(0);
  expect(verification.choose(crowd)).toEqual([]);
  // A crowd of new keys holding every place it may take leaves the established checked.
  expect(verification.choose([...crowd, 'old'])).toEqual(['old']);
  verification.close();
});

it('gives the ledger one settlement and one ban per peer, and holds a peer back while any of its checks is out', async () => {
  const { verification } = setup({ cheat: { ok: false, reason: '40% matches', agreement: 0.4 } });
  // An honest member answers two checks at once (a reload): one verified settlement.
  verification.expect([await pending('honest', 0), await pending('honest', 1)]);
  await verification.reveal('honest', 1, state);
  // Round 1 passed, but round 0's check is still out: nothing is settled for it yet, or round
  // 0's credit would be swept into verified before its own check is in.
  await verification.idle();
  expect(verification.unrecorded().settlements).toEqual([]);
  await verification.reveal('honest', 0, state);
  await verification.idle();
  const first = verification.unrecorded();
  expect(first.settlements.map((s) => [s.peerKey, s.outcome])).toEqual([['honest', 'verified']]);
  verification.recorded(first);
  expect(verification.unrecorded().settlements).toEqual([]);

  // A member that passes one check and fails another in the same interval: the forfeit wins,
  // and the ledger sees one settlement and one ban.
  verification.expect([await pending('cheat', 2), await pending('cheat', 3)]);
  await verification.reveal('cheat', 3, state);
  await verification.reveal('cheat', 2, state);
  await verification.idle();
  const second = verification.unrecorded();
  expect(second.settlements.map((s) => [s.peerKey, s.outcome])).toEqual([['cheat', 'forfeited']]);
  expect(second.bans.map((b) => b.peerKey)).toEqual(['cheat']);
  // What arrives while the commit is written stays for the next one.
  verification.expect([await pending('late', 4)]);
  await verification.reveal('late', 4, state);
  await verification.idle();
  verification.recorded(second);
  expect(verification.unrecorded().settlements.map((s) => s.peerKey)).toEqual(['late']);
});

it('checks a suspect whatever its standing, and says how much room the backlog has', async () => {
  const { verification } = setup({}, () => 0.9);
  for (const round of [0, 1]) {
    verification.expect([await pending('old', round)]);
    await verification.reveal('old', round, state);
    await verification.idle();
  }
  expect(verification.choose(['old'])).toEqual([]);
  expect(verification.choose(['old'], new Set(['old']))).toEqual(['old']);
  expect(verification.room()).toBe(MAX_BACKLOG);
  verification.expect([await pending('new', 2)]);
  expect(verification.room()).toBe(MAX_BACKLOG - 1);
  verification.close();
});
