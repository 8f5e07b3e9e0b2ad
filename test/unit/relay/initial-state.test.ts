// Round 0's starting state (relay/run/initial-state.ts) on the embedded database and on
// PostgreSQL with its checkpoint table (several relays): θ_0 of the seed as before; an origin
// resolved once, kept as round -1 and recorded; and a relay that opens the run again getting
// the same state whatever the origin run or file did since.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { paramsToSafetensors } from '../../../protocol/hf-checkpoint.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { modelHash } from '../../../protocol/model-hash.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import { DEFAULT_RUN, type RunConfig } from '../../../protocol/run-config.ts';
import { PgCheckpointStore } from '../../../relay/checkpoints/pg-checkpoint-store.ts';
import { ensureClusterSchema } from '../../../relay/cluster/cluster-schema.ts';
import { Ledger } from '../../../relay/ledger/ledger.ts';
import { generateRelaySigner } from '../../../relay/ledger/relay-signer.ts';
import { initialState } from '../../../relay/run/initial-state.ts';
import type { OriginSources } from '../../../relay/run/origin-state.ts';
import { expectBitIdentical } from '../../helpers/compare.ts';
import { backends, type TestDatabase } from '../ledger/backends.ts';
import { credit, roundInput } from '../ledger/fixtures.ts';

const MODEL = { vocabSize: 32, contextLength: 8, dModel: 8, nLayer: 1, nHead: 2 };
const RUN: RunConfig = { ...DEFAULT_RUN, model: MODEL, inner: { ...DEFAULT_RUN.inner, seqLen: 8 } };
const n = paramLayout(MODEL).totalFloats;

describe.each(backends().filter((b) => b.name !== 'pglite folder'))('$name', (backend) => {
  let db: TestDatabase;
  let ledger: Ledger;
  const archive = (runId: string) => PgCheckpointStore.open(db.sql, runId, MODEL, 3);
  const sources = (cwd?: string): OriginSources => ({
    runConfig: (id) => ledger.runConfig(id),
    rounds: (id) => ledger.rounds(id),
    archive,
    cwd,
  });
  /** Run A commits `round` with a state made from `seed`; returns its hash and state. */
  const commitA = async (round: number, seed: number) => {
    const state = { weights: initParams(MODEL, seed), momentum: initParams(MODEL, seed + 1) };
    const hash = await modelHash(state.weights, state.momentum);
    await (await archive('run-a')).save(round, hash, state);
    await ledger.commitRound({ ...roundInput('run-a', round, [credit(0, 10)]), modelHash: hash });
    return { hash, state };
  };

  describe.skipIf(backend.unavailable)('initial state', () => {
    beforeEach(async () => {
      db = await backend.fresh();
      await ensureClusterSchema(db.sql);
      ledger = await Ledger.open(db.sql, await generateRelaySigner());
      await ledger.ensureRun('run-a', { ...RUN, name: 'a' });
      await ledger.ensureRun('run-b', RUN);
    });
    afterEach(() => db.dispose());
    afterAll(() => backend.shutdown());

    it('is θ_0 of the seed without an origin, kept as round -1', async () => {
      const checkpoints = await archive('run-b');
      const init = await initialState({
        config: RUN,
        runId: 'run-b',
        ledger,
        checkpoints,
        sources: sources(),
      });
      const weights = initParams(MODEL, RUN.seed);
      expect(init.hash).toBe(await modelHash(weights, new Float32Array(n)));
      expect(init.origin).toBeNull();
      expect(checkpoints.find(init.hash)).toEqual({ round: -1, modelHash: init.hash });
      expect(await ledger.origin('run-b')).toBeNull();
    });

    it('takes an earlier run’s last round once: a reopened run keeps it after that run moved on', async () => {
      await commitA(0, 1);
      const last = await commitA(1, 2);
      const config = { ...RUN, origin: { kind: 'run' as const, run: 'run-a' } };
      const checkpoints = await archive('run-b');
      const init = await initialState({ config, runId: 'run-b', ledger, checkpoints, sources: sources() });
      expect(init.hash).toBe(last.hash);
      expectBitIdentical('weights', init.state?.weights as Float32Array, last.state.weights);
      expectBitIdentical('momentum', init.state?.momentum as Float32Array, last.state.momentum);
      expect(init.origin).toMatchObject({
        runId: 'run-b',
        kind: 'run',
        source: 'run-a',
        round: 1,
        modelHash: last.hash,
      });
      expect(checkpoints.find(last.hash)).toEqual({ round: -1, modelHash: last.hash });

      await commitA(2, 3); // A goes on; B's "latest" was fixed when B first opened
      const again = await initialState({
        config,
        runId: 'run-b',
        ledger,
        checkpoints: await archive('run-b'),
        sources: sources(),
      });
      expect(again.origin).toEqual(init.origin);
      expectBitIdentical('reopened weights', again.state?.weights as Float32Array, last.state.weights);
    });

    it('reads a file once: a reopened run keeps its state after the file changed', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'potluck-initial-'));
      const weights = initParams(MODEL, 5);
      await writeFile(join(dir, 'model.safetensors'), paramsToSafetensors(MODEL, weights));
      const config = { ...RUN, origin: { kind: 'file' as const, file: 'model.safetensors' } };
      const open = async () =>
        initialState({
          config,
          runId: 'run-b',
          ledger,
          checkpoints: await archive('run-b'),
          sources: sources(dir),
        });
      const init = await open();
      expect(init.hash).toBe(await modelHash(weights, new Float32Array(n)));
      expect(init.origin).toMatchObject({ kind: 'file', source: 'model.safetensors', round: null });
      await writeFile(join(dir, 'model.safetensors'), paramsToSafetensors(MODEL, initParams(MODEL, 6)));
      const again = await open();
      expect(again.hash).toBe(init.hash);
      expectBitIdentical('weights', again.state?.weights as Float32Array, weights);
    });
  });
});
