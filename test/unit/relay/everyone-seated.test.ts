// Everyone who shows up trains: with a group cap of 4, ten ready peers are all seated in one
// round, in groups of 4, 3 and 3 that stay the same the next round; every member's decision
// names the same aggregate and only its own group's counted members; the aggregate's pieces
// are the relay's; applying the aggregate lands on the committed hash; and a peer catching up
// is told the state's hash tree and who holds it.
import { describe, expect, it } from 'vitest';
import { pieceRange } from '../../../protocol/aggregate-piece.ts';
import { modelHash } from '../../../protocol/model-hash.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import { applyAggregate } from '../../../protocol/round-update.ts';
import { sha256Hex } from '../../../protocol/sha256.ts';
import { decodeStatePiece } from '../../../protocol/state-piece-message.ts';
import { verifyPiece } from '../../../protocol/state-tree.ts';
import { createHarness, type Harness, type HarnessPeer, harnessConfig } from '../../helpers/round-harness.ts';

async function round(h: Harness, peers: readonly HarnessPeer[]) {
  h.readyAll(peers);
  h.clock.advance(h.config.schedule.gatherMs);
  await h.settle();
  for (const p of peers) await h.contribute(p);
  await h.settle();
}

describe('seating everyone', () => {
  it('seats ten ready peers in groups of at most four, and every group applies the same aggregate', async () => {
    const h = await createHarness({ config: harnessConfig({ schedule: { minPeers: 10, maxGroupSize: 4 } }) });
    const peers: HarnessPeer[] = [];
    for (let i = 0; i < 10; i++) peers.push(await h.join(`p${i}`));
    const before = h.saved.get(h.coordinator.lastCommitted.modelHash);
    await round(h, peers);
    const groups = new Map(
      peers.map((p) => [p.id, (p.last('assignment')?.group ?? []).map((m) => m.peer).sort()]),
    );
    const distinct = [...new Set([...groups.values()].map((g) => g.join(',')))].map((g) => g.split(','));
    expect(distinct.map((g) => g.length).sort()).toEqual([3, 3, 4]);
    expect(distinct.flat().sort()).toEqual(peers.map((p) => p.id).sort());
    for (const p of peers) expect(groups.get(p.id)).toContain(p.id);

    const committed = h.coordinator.lastCommitted;
    const decisions = peers.map((p) => p.last('decision'));
    const summary = decisions[0]?.aggregate;
    for (const [i, d] of decisions.entries()) {
      expect(d?.aggregate).toEqual(summary);
      expect(d?.countedTotal).toBe(10);
      expect(d?.counted.map((c) => c.peer)).toEqual(groups.get(peers[i]?.id as string));
    }
    const aggregate = h.coordinator.committedFrames?.aggregate as Uint8Array;
    expect(await sha256Hex(aggregate)).toBe(summary?.hash);
    for (const [index, hash] of (summary?.pieces ?? []).entries()) {
      const { start, end } = pieceRange(aggregate.length, summary?.pieces.length ?? 0, index);
      expect(await sha256Hex(aggregate.subarray(start, end))).toBe(hash);
    }
    const layout = paramLayout(h.config.model);
    const assignment = peers[0]?.last('assignment');
    const applied = applyAggregate(
      before?.weights as Float32Array,
      before?.momentum as Float32Array,
      aggregate,
      {
        round: assignment?.round as number,
        seed: assignment?.seed as number,
        totalFloats: layout.totalFloats,
        compression: h.config.round.compression,
      },
      layout,
      h.config.round,
    );
    if (!applied.ok) throw new Error(applied.reason);
    expect(await modelHash(applied.weights, applied.momentum)).toBe(committed.modelHash);

    // The same ten again: the same groups, so every link is kept.
    for (const p of peers) h.coordinator.modelHash(p.id, committed.round, committed.modelHash);
    await round(h, peers);
    for (const p of peers)
      expect((p.last('assignment')?.group ?? []).map((m) => m.peer).sort()).toEqual(groups.get(p.id));
  });

  it('tells a peer catching up the state’s hash tree and members that hold it, and serves its pieces', async () => {
    const h = await createHarness({ config: harnessConfig({ schedule: { minPeers: 3, maxGroupSize: 4 } }) });
    const peers = [await h.join('a'), await h.join('b'), await h.join('c')];
    await round(h, peers);
    const late = await h.join('late');
    h.coordinator.ready(late.id, -1, 'f'.repeat(64));
    const resync = late.last('resync');
    expect(resync?.modelHash).toBe(h.coordinator.lastCommitted.modelHash);
    const state = resync?.state;
    expect(state?.holders.sort()).toEqual(peers.map((p) => p.id).sort());
    const shape = {
      root: state?.root as string,
      totalBytes: state?.bytes as number,
      pieceBytes: state?.pieceBytes as number,
    };
    const count = Math.ceil(shape.totalBytes / shape.pieceBytes);
    expect(count).toBeGreaterThan(1);
    for (let index = 0; index < count; index++) {
      const decoded = decodeStatePiece(h.coordinator.statePiece(shape.root, index) as Uint8Array);
      if (!decoded.ok) throw new Error(decoded.error.message);
      expect(await verifyPiece(shape, index, decoded.value.bytes, decoded.value.proof)).toEqual({ ok: true });
    }
    expect(h.coordinator.statePiece(shape.root, count)).toBeNull();
    expect(h.coordinator.statePiece('0'.repeat(64), 0)).toBeNull();
  });
});
