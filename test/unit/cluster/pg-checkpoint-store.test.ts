// Committed states in PostgreSQL, for several relays: what one relay saves another serves and
// loads (after sync), each state checked against its hash, the newest `keep` kept.
import { afterAll, describe, expect, it } from 'vitest';
import { initParams } from '../../../protocol/init-params.ts';
import { modelHash } from '../../../protocol/model-hash.ts';
import { PgCheckpointStore } from '../../../relay/checkpoints/pg-checkpoint-store.ts';
import { ensureClusterSchema } from '../../../relay/cluster/cluster-schema.ts';
import { freshClusterPools, POSTGRES_URL } from '../../helpers/cluster-database.ts';

const MODEL = { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 1, nHead: 2 };

describe.skipIf(!POSTGRES_URL)('checkpoints in PostgreSQL', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  });

  it('serves one relay’s states from another and keeps the newest three', async () => {
    const {
      pools: [sqlA, sqlB],
    } = await freshClusterPools(cleanup, 2);
    if (!sqlA || !sqlB) throw new Error('two pools expected');
    await ensureClusterSchema(sqlA);
    const saver = await PgCheckpointStore.open(sqlA, 'run', MODEL, 3);
    const reader = await PgCheckpointStore.open(sqlB, 'run', MODEL, 3);
    const states = [1, 2, 3, 4].map((seed) => {
      const weights = initParams(MODEL, seed);
      return { weights, momentum: weights.map((w) => w * 0.5) };
    });
    const hashes = await Promise.all(states.map((s) => modelHash(s.weights, s.momentum)));
    for (const [round, state] of states.entries()) await saver.save(round, hashes[round] as string, state);
    // Saving one state twice (a retry) keeps one row.
    await saver.save(3, hashes[3] as string, states[3] as (typeof states)[0]);

    expect(reader.latest()).toBeNull(); // not synced yet
    const loaded = await reader.load(hashes[3] as string); // load syncs when it misses
    expect(loaded?.weights).toEqual(states[3]?.weights);
    expect(reader.latest()).toEqual({ round: 3, modelHash: hashes[3] });
    expect(reader.has(hashes[0] as string)).toBe(false); // the oldest was pruned
    const bytes = await reader.read({ round: 2, modelHash: hashes[2] as string });
    expect((await reader.check(bytes, hashes[2] as string)).ok).toBe(true);
    expect(await reader.check(bytes, hashes[1] as string)).toMatchObject({
      ok: false,
      code: 'ERR_CHECKPOINT_HASH',
    });
  });
});
