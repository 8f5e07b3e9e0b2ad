// Committed round states on disk: kept only when they hash to the committed hash (weights and
// outer momentum alike), written atomically, found again after a restart, pruned to the newest.
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { paramsToSafetensors } from '../../../protocol/hf-checkpoint.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { modelHash } from '../../../protocol/model-hash.ts';
import { encodeRoundState } from '../../../protocol/round-state-file.ts';
import { CheckpointStore } from '../../../relay/checkpoints/checkpoint-store.ts';

const MODEL = { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 1, nHead: 2 };

it('checks uploads against the committed hash and keeps the newest three', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'potluck-ckpt-'));
  const store = await CheckpointStore.open(dir, MODEL);
  expect(store.latest()).toBeNull();
  const states = [1, 2, 3, 4, 5].map((seed) => {
    const weights = initParams(MODEL, seed);
    return { weights, momentum: weights.map((w) => w * 0.5) };
  });
  const hashes = await Promise.all(states.map((s) => modelHash(s.weights, s.momentum)));

  const upload = encodeRoundState(MODEL, states[0] as (typeof states)[0]);
  expect((await store.check(upload, hashes[0] as string)).ok).toBe(true);
  expect(await store.check(upload, hashes[1] as string)).toMatchObject({
    ok: false,
    code: 'ERR_CHECKPOINT_HASH',
  });
  // The right weights with the wrong momentum (here: none) are not the committed state.
  const weightsOnly = paramsToSafetensors(MODEL, states[0]?.weights as Float32Array);
  expect(await store.check(weightsOnly, hashes[0] as string)).toMatchObject({ code: 'ERR_CHECKPOINT_HASH' });
  const garbage = await store.check(new Uint8Array([1, 2, 3]), hashes[0] as string);
  expect(garbage).toMatchObject({ ok: false, code: 'ERR_CHECKPOINT_INVALID' });

  // Two peers uploading the same state at once: both saves succeed, one file is kept.
  const first = states[0] as (typeof states)[0];
  await Promise.all([store.save(-1, hashes[0] as string, first), store.save(-1, hashes[0] as string, first)]);
  expect((await readdir(dir)).filter((f) => f.endsWith('.safetensors'))).toHaveLength(1);
  for (const [round, state] of states.entries()) await store.save(round - 1, hashes[round] as string, state);
  expect((await readdir(dir)).filter((f) => f.endsWith('.safetensors'))).toHaveLength(3);
  expect((await readdir(dir)).some((f) => f.endsWith('.tmp'))).toBe(false);

  const reopened = await CheckpointStore.open(dir, MODEL);
  const latest = reopened.latest();
  expect(latest).toMatchObject({ round: 3, modelHash: hashes[4] });
  const bytes = await reopened.read(latest as NonNullable<typeof latest>);
  expect((await reopened.check(bytes, hashes[4] as string)).ok).toBe(true);
  expect(reopened.has(hashes[0] as string)).toBe(false);
});

it('refuses a state with a NaN or an infinity in it, even when it hashes to the committed hash', async () => {
  // A lone member once got such a hash committed and the relay stored and served the state.
  const store = await CheckpointStore.open(await mkdtemp(join(tmpdir(), 'potluck-ckpt-')), MODEL);
  const weights = initParams(MODEL, 1);
  for (const [bad, where] of [
    [Number.NaN, 'weights'],
    [Number.POSITIVE_INFINITY, 'momentum'],
  ] as const) {
    const state = { weights: weights.slice(), momentum: new Float32Array(weights.length) };
    state[where][7] = bad;
    const hash = await modelHash(state.weights, state.momentum);
    expect(await store.check(encodeRoundState(MODEL, state), hash)).toMatchObject({
      ok: false,
      code: 'ERR_CHECKPOINT_INVALID',
      message: expect.stringContaining(`${bad} at float 7`),
    });
  }
});

it('finds the state of a given hash, not only the newest file', async () => {
  // After a crash between a round's state file and its ledger commit, the newest file is a round
  // the ledger never committed: the relay serves the committed hash's file (RelayRun).
  const dir = await mkdtemp(join(tmpdir(), 'potluck-ckpt-'));
  const store = await CheckpointStore.open(dir, MODEL);
  const states = [1, 2].map((seed) => ({
    weights: initParams(MODEL, seed),
    momentum: new Float32Array(initParams(MODEL, seed).length),
  }));
  const [committed, uncommitted] = await Promise.all(states.map((s) => modelHash(s.weights, s.momentum)));
  await store.save(4, committed as string, states[0] as (typeof states)[0]);
  await store.save(5, uncommitted as string, states[1] as (typeof states)[0]);
  const reopened = await CheckpointStore.open(dir, MODEL);
  expect(reopened.latest()?.modelHash).toBe(uncommitted);
  expect(reopened.find(committed as string)).toMatchObject({ round: 4, modelHash: committed });
  expect(reopened.find('f'.repeat(64))).toBeNull();
});
