// What an outside attack pass found in the checking of work, as regression tests on the real
// coordinator, ledger (PGlite) and work check: two checks of one member settled in one commit
// (the ledger refused every later commit: the run stalled for good, an honest member answering
// two checks at once after a reload was enough); a byte-for-byte copy between two established
// members going unchecked; and an honest member banned when its share of the round dropped.

import { expect, it } from 'vitest';
import { type InnerStart, innerLoopReference, residualAfter } from '../../../kernels/reference/inner-loop.ts';
import { frameOf } from '../../../kernels/round/payload.ts';
import { errorDecayOf } from '../../../protocol/compression-settings.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { encodeLocalState } from '../../../protocol/local-state-file.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import { sha256Hex } from '../../../protocol/sha256.ts';
import { encodeTensorFrame } from '../../../protocol/tensor-frame.ts';
import { ManualClock } from '../../../relay/clock.ts';
import { silentLogger } from '../../../relay/logger.ts';
import { type Ban, Verification } from '../../../relay/rounds/verification.ts';
import { checkWork } from '../../../relay/rounds/work-check.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';
import { brownSample } from '../../helpers/brown-sample.ts';
import {
  type LedgerRoundRig,
  ledgerRoundRig,
  RIG_RUN,
  type RigMember,
  rigConfig,
} from '../../helpers/ledger-round-rig.ts';

/** Rounds in which every member does honest work and answers its checks at once. */
async function honestRounds(rig: LedgerRoundRig, members: readonly RigMember[], rounds: number) {
  for (let i = 0; i < rounds; i++) {
    await rig.openRound(members);
    const round = rig.coordinator.lastCommitted.round + 1;
    for (const m of members) await rig.contribute(m, rig.freshState, await rig.honestFrame(m));
    rig.clock.advance(61_000);
    await rig.settle();
    for (const m of members)
      if (m.inbox.some((x) => x.type === 'check' && x.round === round))
        await rig.coordinator.revealState(m.id, round, rig.freshState);
    await rig.settle();
  }
}

async function standing(rig: LedgerRoundRig, member: RigMember) {
  const row = (await rig.ledger.leaderboard(RIG_RUN)).find((r) => r.publicKey === member.id);
  return { verified: row?.verifiedFlops, provisional: row?.provisionalFlops, banned: row?.banned };
}

it('an honest member answering two checks at once (a reload) keeps the run committing', async () => {
  const rig = await ledgerRoundRig(rigConfig());
  const a = await rig.join('honest-a');
  const b = await rig.join('honest-b');
  for (let round = 0; round < 2; round++) {
    await rig.openRound([a, b]);
    await rig.contribute(a, rig.freshState, await rig.honestFrame(a));
    await rig.contribute(b, rig.freshState, await rig.honestFrame(b));
    await rig.coordinator.revealState(b.id, round, rig.freshState);
    await rig.settle();
  }
  // a was away: both its checks are answered together after round 1 committed.
  for (const round of [0, 1])
    expect(await rig.coordinator.revealState(a.id, round, rig.freshState)).toEqual({ kind: 'accepted' });
  await rig.settle();
  await honestRounds(rig, [a, b], 3);
  expect(rig.failedCommits).toEqual([]);
  expect(rig.commits.map((c) => c.round)).toEqual([0, 1, 2, 3, 4]);
  expect(await standing(rig, a)).toMatchObject({ banned: false });
  expect(Number((await standing(rig, a)).verified)).toBeGreaterThan(0);
});

it('a member failing two checks at once is banned in the ledger, and the run goes on', async () => {
  // The redo takes time (about 85 s on the default model): both uploads are in before a verdict.
  const rig = await ledgerRoundRig(rigConfig(), async (work) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return checkWork(work);
  });
  const honest = await rig.join('honest');
  const attacker = await rig.join('attacker');
  // Decodes, hashes to what its manifests named, breaks the moment bound: each check fails.
  const zeros = () => new Float32Array(rig.N);
  const bad = encodeLocalState({ m: zeros().fill(1), v: zeros(), residual: zeros(), step: 0, round: 0 });
  for (let round = 0; round < 2; round++) {
    await rig.openRound([honest, attacker]);
    await rig.contribute(honest, rig.freshState, await rig.honestFrame(honest));
    await rig.contribute(attacker, bad);
    await rig.coordinator.revealState(honest.id, round, rig.freshState);
    await rig.settle();
  }
  const outcomes = await Promise.all(
    [0, 1].map((round) => rig.coordinator.revealState(attacker.id, round, bad)),
  );
  expect(outcomes).toEqual([{ kind: 'accepted' }, { kind: 'accepted' }]);
  await rig.settle();
  await honestRounds(rig, [honest], 3);
  expect(rig.failedCommits).toEqual([]);
  expect(rig.commits.map((c) => c.round)).toEqual([0, 1, 2, 3, 4]);
  expect(await standing(rig, attacker)).toEqual({ verified: '0', provisional: '0', banned: true });
  console.log('attacker:', await standing(rig, attacker), 'honest:', await standing(rig, honest));
});

it('checks both members whose frames are byte for byte alike, however established', async () => {
  // One passed check establishes a member, and no sampling after: only the screen checks.
  const rig = await ledgerRoundRig(rigConfig({ probationRounds: 1, checkProbability: 0 }));
  const author = await rig.join('author');
  const copier = await rig.join('copier');
  await honestRounds(rig, [author, copier], 1);
  expect(rig.coordinator.lastCommitted.round).toBe(0);
  await rig.openRound([author, copier]);
  const frame = await rig.honestFrame(author);
  await rig.contribute(author, rig.freshState, frame);
  await rig.contribute(copier, rig.freshState, frame);
  rig.clock.advance(61_000);
  await rig.settle();
  for (const m of [author, copier]) {
    expect(m.last('check')?.round).toBe(1);
    await rig.coordinator.revealState(m.id, 1, rig.freshState);
  }
  await rig.settle();
  await honestRounds(rig, [author], 1);
  expect(await standing(rig, copier)).toMatchObject({ verified: '0', provisional: '0', banned: true });
  expect(await standing(rig, author)).toMatchObject({ banned: false });
});

it('does not ban an honest member whose share of the round dropped from H to 1 step', async () => {
  const resolved = resolveRunConfig({
    model: { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 1, nHead: 2 },
    inner: { batchSize: 2, seqLen: 16 },
  });
  if (!resolved.ok) throw new Error(resolved.message);
  const config = resolved.config;
  const N = paramLayout(config.model).totalFloats;
  const H = config.round.innerSteps;
  const train = brownSample(6).train;
  const bans: Ban[] = [];
  const verification = new Verification({
    config: config.verification,
    totalFloats: N,
    clock: new ManualClock(),
    log: silentLogger,
    check: async (work) => checkWork(work),
    trainTokens: async ({ start, end }) => train.subarray(start, end),
    onBan: (ban) => bans.push(ban),
    verifiedRounds: new Map([['honest', 3]]),
  });
  // Full shares, then one step: others measured far faster lifted the median (sizing.ts).
  let start: InnerStart = {
    m: new Float32Array(N),
    v: new Float32Array(N),
    residual: new Float32Array(N),
    step: 0,
  };
  let theta = initParams(config.model, config.seed);
  let offset = 0;
  const outcomes: string[] = [];
  for (const [round, innerSteps] of [H, H, H, 1].entries()) {
    const shard = { start: offset, end: offset + innerSteps * 32 + 1 };
    offset = shard.end;
    const work = {
      weights: theta,
      tokens: train.subarray(shard.start, shard.end),
      innerSteps,
      learningRate: 3e-3,
      seed: 1000 + round,
      noiseStream: 1,
    };
    const done = innerLoopReference(config, start, work);
    const bytes = encodeLocalState({ ...start, round: round - 1 });
    verification.expect([
      {
        round,
        peer: 'honest',
        stateHash: await sha256Hex(bytes),
        shard,
        work: {
          config,
          expected: { round, seed: work.seed, totalFloats: N, compression: config.round.compression },
          weights: theta,
          innerSteps,
          learningRate: work.learningRate,
          noiseStream: 1,
          frame: encodeTensorFrame(frameOf(done.payload, round)),
        },
      },
    ]);
    await verification.reveal('honest', round, bytes);
    await verification.idle();
    const settled = verification.unrecorded();
    outcomes.push(settled.settlements.map((s) => s.outcome).join());
    verification.recorded(settled);
    start = {
      m: done.m,
      v: done.v,
      residual: residualAfter(done.acc, done.payload, errorDecayOf(config.round.compression)),
      step: done.step,
    };
    theta = theta.map((x, i) => x - (done.delta[i] as number));
  }
  // The one-step round's residual dwarfs its step: no evidence either way, so that round's
  // credit is forfeited and the member is on probation again (a median share), but not banned.
  expect(outcomes).toEqual(['verified', 'verified', 'verified', 'forfeited']);
  expect(bans).toEqual([]);
  expect(verification.onProbation('honest')).toBe(true);
});

it('an identity on probation that answers no check holds two backlog places, not one per round', async () => {
  const rig = await ledgerRoundRig(rigConfig());
  const honest = await rig.join('honest');
  const silent = await rig.join('silent');
  // Rounds go by faster than the 120 s answer window: the silent one's checks stay open.
  for (let round = 0; round < 4; round++) {
    const seated = round < 2 ? [honest, silent] : [honest];
    await rig.openRound([honest, silent]);
    expect(rig.coordinator.lastCommitted.round).toBe(round - 1);
    for (const m of seated) await rig.contribute(m, rig.freshState, await rig.honestFrame(m));
    await rig.settle();
    await rig.coordinator.revealState(honest.id, round, rig.freshState);
    await rig.settle();
  }
  expect(rig.commits.map((c) => c.round)).toEqual([0, 1, 2, 3]);
  const assigned = (m: RigMember) => m.inbox.filter((x) => x.type === 'assignment').map((x) => x.round);
  expect(assigned(honest)).toEqual([0, 1, 2, 3]);
  expect(assigned(silent)).toEqual([0, 1]);
  expect(silent.last('wait')?.reason).toBe('the checks of your last rounds are not answered yet');
});
