// The relay's round rules on a manual clock, with peers that hold real keys and send real
// frames: the relay commits the state it computes from the frames it holds (never a hash a
// head count of peers reported), a silent member costs a round at most the grace period and is
// benched with back-off, and peers catching up are waited for a little.
import { describe, expect, it } from 'vitest';
import { modelHash } from '../../../protocol/model-hash.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import { roundUpdate } from '../../../protocol/round-update.ts';
import { sha256Hex } from '../../../protocol/sha256.ts';
import { CATCH_UP_WAIT_MS } from '../../../relay/rounds/coordinator.ts';
import { ShardPool } from '../../../relay/rounds/shard-pool.ts';
import { createHarness, type Harness, type HarnessPeer } from '../../helpers/round-harness.ts';

async function openRound(h: Harness, peers: readonly HarnessPeer[]): Promise<void> {
  h.readyAll(peers);
  h.clock.advance(h.config.schedule.gatherMs);
  await h.settle();
}

/** What the relay must commit: the counted frames through the peers' own arithmetic. */
async function expectedHash(
  h: Harness,
  round: number,
  seed: number,
  frames: { peer: string; frame: Uint8Array }[],
) {
  const previous = h.saved.get(h.coordinator.lastCommitted.modelHash);
  if (!previous) throw new Error('no state');
  const layout = paramLayout(h.config.model);
  const tokens = h.config.inner.batchSize * h.config.inner.seqLen * h.config.round.innerSteps;
  const update = roundUpdate(
    previous.weights,
    previous.momentum,
    frames.map((f) => ({ ...f, tokens })),
    { round, seed, totalFloats: layout.totalFloats, compression: h.config.round.compression },
    layout,
    h.config.round,
  );
  if (!update.ok) throw new Error(update.reason);
  return modelHash(update.weights, update.momentum);
}

describe('what the relay commits', () => {
  it('is the state it computes from the frames it holds, whatever peers report', async () => {
    const h = await createHarness();
    const [a, b] = [await h.join('a'), await h.join('b')];
    await openRound(h, [a, b]);
    const { round, seed } = h.assignment(a);
    const frames = [a, b].map((p) => ({ peer: p.id, frame: h.frame(p) }));
    // Both report a made-up hash before the decision: reports decide nothing.
    for (const p of [a, b]) h.coordinator.modelHash(p.id, round, 'f'.repeat(64));
    const want = await expectedHash(h, round, seed, frames);
    for (const f of frames) await h.contribute(f.peer === a.id ? a : b, f.frame);
    expect(h.coordinator.lastCommitted).toEqual({ round, modelHash: want });
    expect(a.last('commit')).toMatchObject({ round, modelHash: want });
    expect(a.last('decision')?.counted.map((c) => c.peer)).toEqual([a.id, b.id].sort());
    expect(h.commits[0]?.credits.map((c) => c.peerKey).sort()).toEqual([a.id, b.id].sort());
    // A peer that reports another hash afterwards is only counted as disagreeing.
    h.coordinator.modelHash(b.id, round, 'e'.repeat(64));
    expect(h.coordinator.hashDisagreements).toBe(1);
    expect(h.coordinator.lastCommitted.modelHash).toBe(want);
  });

  it('refuses a frame in another format, one too large, and one whose claim does not verify', async () => {
    const h = await createHarness();
    const [a, b] = [await h.join('a'), await h.join('b')];
    await openRound(h, [a, b]);
    const { round, seed } = h.assignment(a);
    const { cpuFrame } = await import('../../helpers/cpu-frame.ts');
    const dense = cpuFrame(
      new Float32Array(h.totalFloats).fill(1e-3),
      { randomK: 1, topK: 1, bits: 32, blockSize: 512 },
      round,
      seed,
    );
    expect(await h.upload(a, dense)).toMatchObject({ kind: 'refused' });
    const big = new Uint8Array(h.coordinator.committedFrames ? 0 : 10_000_000);
    expect(await h.upload(a, big)).toMatchObject({ kind: 'refused', code: 'ERR_FRAME_TOO_LARGE' });
    const frame = h.frame(a);
    const forged = await h.claim(b, round, await sha256Hex(frame)); // b signs for a
    expect(await h.coordinator.upload(a.id, round, frame, forged)).toMatchObject({
      kind: 'refused',
      status: 403,
    });
    expect(await h.coordinator.upload('x'.repeat(43), round, frame, forged)).toMatchObject({
      kind: 'refused',
      status: 403,
    });
    expect(await h.upload(a, frame)).toMatchObject({ kind: 'stored' });
    expect(await h.upload(a, frame)).toMatchObject({ kind: 'duplicate' });
  });

  it('proves and excludes an author that signs two frames for one round, by upload or by mesh', async () => {
    const h = await createHarness({ config: undefined });
    const [a, b, c] = [await h.join('a'), await h.join('b'), await h.join('c')];
    await openRound(h, [a, b, c]);
    const { round } = h.assignment(a);
    // c uploads one frame, then another: the second upload is the proof.
    await h.contribute(c);
    const other = h.frame(c, new Float32Array(h.totalFloats).fill(-0.02));
    expect(await h.upload(c, other)).toMatchObject({ kind: 'equivocation' });
    expect(h.proofs.map((p) => p.author)).toEqual([c.id]);
    // b sent a frame to a over the mesh that differs from its upload: a's manifest names it.
    const meshFrame = h.frame(b, new Float32Array(h.totalFloats).fill(0.05));
    const meshHash = await sha256Hex(meshFrame);
    const meshClaim = await h.claim(b, round, meshHash);
    await h.contribute(b);
    await h.contribute(a, undefined, [{ peer: b.id, frameHash: meshHash, claim: meshClaim }]);
    h.clock.advance(h.config.schedule.graceMs);
    await h.settle();
    expect(h.proofs.map((p) => p.author).sort()).toEqual([b.id, c.id].sort());
    const proof = h.proofs.find((p) => p.author === b.id);
    expect(proof?.claims.map((x) => x.frameHash)).toContain(meshHash);
    expect(proof?.reportedBy).toBe(a.id);
    expect(h.commits.at(-1)?.credits.map((x) => x.peerKey)).toEqual([a.id]);
    // Excluded for good: never seated again (a alone is below minPeers: no round opens).
    await openRound(h, [a, b, c]);
    expect(h.assignment(a).round).toBe(round);
    for (const p of [b, c]) expect(p.last('wait')?.reason).toMatch(/excluded/);
  });

  it('does not pair a claim from an aborted opening of the round with one from the next', async () => {
    const h = await createHarness();
    const [a, b] = [await h.join('a'), await h.join('b')];
    await openRound(h, [a, b]);
    const first = h.assignment(a);
    // a uploads in the first opening; no manifest arrives, so the round aborts at its deadline.
    const oldFrame = h.frame(a);
    expect(await h.upload(a, oldFrame)).toMatchObject({ kind: 'stored' });
    const oldHash = await sha256Hex(oldFrame);
    const oldClaim = await h.claim(a, first.round, oldHash);
    h.clock.advance(first.deadline - h.clock.now());
    await h.settle();
    expect(a.last('round-aborted')).toBeDefined();
    await openRound(h, [a, b]);
    const second = h.assignment(a);
    expect(second.round).toBe(first.round);
    expect(second.seed).not.toBe(first.seed);
    // b names a's claim from the first opening: it proves nothing about the second.
    await h.contribute(a);
    await h.contribute(b, undefined, [{ peer: a.id, frameHash: oldHash, claim: oldClaim }]);
    expect(h.proofs).toEqual([]);
    expect(
      h.commits
        .at(-1)
        ?.credits.map((x) => x.peerKey)
        .sort(),
    ).toEqual([a.id, b.id].sort());
  });

  it('does not take a forged mesh claim as proof against an honest author', async () => {
    const h = await createHarness();
    const [a, b] = [await h.join('a'), await h.join('b')];
    await openRound(h, [a, b]);
    const { round } = h.assignment(a);
    await h.contribute(b);
    // a says b sent it something else, with a claim a signed itself.
    const lie = await sha256Hex(new Uint8Array([1, 2, 3]));
    await h.contribute(a, undefined, [{ peer: b.id, frameHash: lie, claim: await h.claim(a, round, lie) }]);
    expect(h.proofs).toEqual([]);
    expect(
      h.commits
        .at(-1)
        ?.credits.map((x) => x.peerKey)
        .sort(),
    ).toEqual([a.id, b.id].sort());
  });
});

describe('liveness', () => {
  it('decides at quorum plus grace without a silent member, and benches it with back-off', async () => {
    const h = await createHarness();
    const peers = [await h.join('a'), await h.join('b'), await h.join('c'), await h.join('silent')];
    const silent = peers[3] as HarnessPeer;
    const benchedRounds: number[] = [];
    for (let r = 0; r < 6; r++) {
      await openRound(h, peers);
      const a = h.assignment(peers[0] as HarnessPeer);
      expect(a.round).toBe(r);
      const seated = a.group.some((m) => m.peer === silent.id);
      if (!seated) benchedRounds.push(r);
      for (const p of peers.slice(0, 3)) await h.contribute(p);
      if (seated) {
        // Quorum (3 of 4) is in: the round waits graceMs, not the 60 s deadline.
        expect(h.coordinator.lastCommitted.round).toBe(r - 1);
        h.clock.advance(h.config.schedule.graceMs - 1);
        await h.settle();
        expect(h.coordinator.lastCommitted.round).toBe(r - 1);
        h.clock.advance(1);
        await h.settle();
      }
      expect(h.coordinator.lastCommitted.round).toBe(r);
    }
    // Missed round 0: benched for 1 round (1); missed 2: benched 2 rounds (3, 4); seated at 5.
    expect(benchedRounds).toEqual([1, 3, 4]);
  });

  it('seats a benched member after all when the round would otherwise stay below minPeers', async () => {
    const h = await createHarness();
    const [a, b] = [await h.join('a'), await h.join('b')];
    await openRound(h, [a, b]);
    const { round, deadline } = h.assignment(a);
    await h.contribute(a); // b is silent: quorum (1 of 2) and grace decide without it
    h.clock.advance(Math.min(h.config.schedule.graceMs, deadline - h.clock.now()));
    await h.settle();
    expect(h.coordinator.lastCommitted.round).toBe(round);
    // b is benched for a round, but minPeers is 2: without it no round could ever open.
    await openRound(h, [a, b]);
    expect(h.assignment(a).round).toBe(round + 1);
    expect(h.assignment(a).group.map((m) => m.peer)).toContain(b.id);
  });

  it('does not keep a member benched that delivered after the decision: it was slow, not silent', async () => {
    const h = await createHarness();
    const peers = [await h.join('a'), await h.join('b'), await h.join('c'), await h.join('slow')];
    const slow = peers[3] as HarnessPeer;
    await openRound(h, peers);
    const { round } = h.assignment(slow);
    for (const p of peers.slice(0, 3)) await h.contribute(p);
    h.clock.advance(h.config.schedule.graceMs);
    await h.settle();
    expect(h.coordinator.lastCommitted.round).toBe(round);
    // Its manifest arrives after the decision: it is seated in the next round again.
    const frame = h.frame(slow);
    h.coordinator.manifest(slow.id, {
      round,
      frameHash: await sha256Hex(frame),
      stateHash: '0'.repeat(64),
      holds: [],
      trainLoss: 3,
    });
    await openRound(h, peers);
    expect(h.assignment(peers[0] as HarnessPeer).group.map((m) => m.peer)).toContain(slow.id);
  });

  it('sizes shares by what it measured, never by the claimed speed, and bounds the uplink claim', async () => {
    const h = await createHarness();
    const [a, b, c] = [await h.join('a'), await h.join('b'), await h.join('c')];
    h.coordinator.capabilities(a.id, { tokensPerSec: 1e12, uplinkBytesPerSec: 1e-6 });
    await openRound(h, [a, b, c]);
    const first = h.assignment(a);
    expect(first.innerSteps).toBe(h.config.round.innerSteps);
    expect(h.assignment(b).innerSteps).toBe(h.config.round.innerSteps);
    expect(first.deadline - h.clock.now()).toBeLessThanOrEqual(h.config.schedule.maxRoundMs);
    // a uploads at once, b and c after 10 s: a, measured far faster than the median, gets
    // more steps, capped at maxInnerStepsFactor x H.
    await h.contribute(a);
    h.clock.advance(10_000);
    await h.contribute(b);
    await h.contribute(c);
    await openRound(h, [a, b, c]);
    const cap = Math.floor(h.config.round.innerSteps * h.config.schedule.maxInnerStepsFactor);
    expect(h.assignment(a).innerSteps).toBe(cap);
  });

  it('seats an honest peer however fast a crowd of identities is measured', async () => {
    const h = await createHarness();
    const honest = await h.join('honest');
    const crowd = [await h.join('s1'), await h.join('s2'), await h.join('s3'), await h.join('s4')];
    for (let r = 0; r < 3; r++) {
      await openRound(h, [honest, ...crowd]);
      const a = h.assignment(honest);
      expect(a.round).toBe(r);
      expect(a.group.map((m) => m.peer)).toContain(honest.id);
      for (const s of crowd) await h.contribute(s); // at once: measured ~10^4 times faster
      h.clock.advance(2_000); // within the grace period
      await h.contribute(honest);
      expect(h.commits.at(-1)?.credits.map((c) => c.peerKey)).toContain(honest.id);
    }
    // It was given fewer steps (its speed against the crowd's), never left out.
    expect(h.assignment(honest).group.find((m) => m.peer === honest.id)?.innerSteps).toBeGreaterThanOrEqual(
      1,
    );
  });

  it('a peer that said ready during a round resyncs when it commits, and is waited for while it catches up', async () => {
    const h = await createHarness();
    const [a, b, c] = [await h.join('a'), await h.join('b'), await h.join('c')];
    await openRound(h, [a, b]);
    h.readyAll([c]);
    expect(c.last('wait')).toMatchObject({ reason: 'round 0 is in progress' });
    await h.contribute(a);
    await h.contribute(b);
    const committed = h.coordinator.lastCommitted;
    expect(c.last('resync')).toMatchObject({
      type: 'resync',
      ...committed,
      state: { holders: expect.arrayContaining([a.id, b.id]) },
    });
    h.readyAll([a, b]);
    h.clock.advance(3_000);
    expect(h.assignment(a).round).toBe(0); // waiting for c
    h.readyAll([c]);
    h.clock.advance(250);
    expect(h.assignment(c).round).toBe(1);
    expect(h.assignment(c).group).toHaveLength(3);
    expect(CATCH_UP_WAIT_MS).toBeGreaterThan(3_000);
  });

  it('rolls a nearly spent epoch over rather than opening a round with one of two ready peers', async () => {
    const probe = await createHarness();
    const { batchSize, seqLen } = probe.config.inner;
    const window = batchSize * seqLen + 1;
    const pool = new ShardPool(1_000_000);
    pool.take(1_000_000 - Math.floor(1.5 * window), window, 0); // one window is left, not two
    const h = await createHarness({ pool });
    const [a, b] = [await h.join('a'), await h.join('b')];
    await openRound(h, [a, b]);
    expect(
      h
        .assignment(a)
        .group.map((m) => m.peer)
        .sort(),
    ).toEqual([a.id, b.id].sort());
    expect(pool.epoch).toBe(1);
  });
});
