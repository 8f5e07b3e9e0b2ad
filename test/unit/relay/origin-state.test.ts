// Loading the model a run's origin names (relay/run/origin-state.ts): a Hugging Face-named
// safetensors file, as written here from a known state and as PyTorch wrote one, a committed
// state of an earlier run, and every way one can fail to fit, each refused by code with the
// tensor and both shapes named.
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuGpt } from '../../../kernels/reference/gpt.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { hfConfigJson } from '../../../protocol/hf-checkpoint.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { modelHash } from '../../../protocol/model-hash.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import { encodeSafetensors, type SafetensorsInput } from '../../../protocol/safetensors.ts';
import { CheckpointStore } from '../../../relay/checkpoints/checkpoint-store.ts';
import { Ledger } from '../../../relay/ledger/ledger.ts';
import { generateRelaySigner } from '../../../relay/ledger/relay-signer.ts';
import type { Sql } from '../../../relay/ledger/sql.ts';
import { openPglite } from '../../../relay/ledger/sql-pglite.ts';
import {
  loadOriginState,
  maxOriginFileBytes,
  type OriginSources,
  RunOriginError,
} from '../../../relay/run/origin-state.ts';
import { expectBitIdentical, expectClose } from '../../helpers/compare.ts';
import { credit, roundInput } from '../ledger/fixtures.ts';
import { GPT2_TINY, loadTinyFixture } from '../model/gpt2-tiny.ts';

const MODEL: GptConfig = { vocabSize: 64, contextLength: 16, dModel: 16, nLayer: 2, nHead: 2 };
const C = MODEL.dModel;

/** The flat state as Hugging Face GPT2Model names it (no `transformer.` prefix), plus `extra`. */
function hfTensors(model: GptConfig, params: Float32Array): SafetensorsInput[] {
  return paramLayout(model).tensors.map((t) => ({
    name: t.name.replace(/^transformer\./, ''),
    dtype: 'F32' as const,
    shape: t.shape,
    data: params.slice(t.offset, t.offset + t.size),
  }));
}

async function folderWith(files: Record<string, Uint8Array | string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'potluck-origin-'));
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
  return dir;
}

const noRuns: OriginSources = {
  runConfig: async () => null,
  rounds: async () => [],
  archive: async () => {
    throw new Error('no archive in a file test');
  },
};

async function fileOrigin(dir: string, model: GptConfig = MODEL, extra: Partial<OriginSources> = {}) {
  return loadOriginState({ kind: 'file', file: 'model.safetensors' }, model, {
    ...noRuns,
    cwd: dir,
    ...extra,
  });
}

async function refusal(load: Promise<unknown>): Promise<RunOriginError> {
  const error = await load.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof RunOriginError)) throw new Error(`expected a RunOriginError, got ${String(error)}`);
  return error;
}

describe('origin file', () => {
  const params = initParams(MODEL, 11);
  // Tokens 0..15 twice over, as one batch of 2 sequences.
  const tokens = Array.from({ length: 2 * MODEL.contextLength }, (_, i) => (i * 7) % MODEL.vocabSize);

  it('loads Hugging Face names (bare, with lm_head and a mask buffer) bit for bit, and computes the same logits', async () => {
    const tensors = [
      ...hfTensors(MODEL, params),
      // The tied head and an old causal-mask buffer: present in real files, ignored.
      {
        name: 'lm_head.weight',
        dtype: 'F32' as const,
        shape: [MODEL.vocabSize, C],
        data: params.slice(0, 64 * C),
      },
      { name: 'h.0.attn.bias', dtype: 'F32' as const, shape: [1, 1, 16, 16], data: new Float32Array(256) },
    ];
    const dir = await folderWith({ 'model.safetensors': encodeSafetensors(tensors, { format: 'pt' }) });
    const loaded = await fileOrigin(dir);
    expectBitIdentical('weights', loaded.state.weights, params);
    expect(loaded.state.momentum.every((m) => m === 0)).toBe(true);
    const zeros = new Float32Array(params.length);
    expect(loaded.hash).toBe(await modelHash(params, zeros));
    expect(loaded.record).toEqual({
      kind: 'file',
      source: 'model.safetensors',
      round: null,
      modelHash: loaded.hash,
    });
    const T = MODEL.contextLength;
    const theirs = new CpuGpt(MODEL, params).forward(tokens, null, 2, T).logits;
    const ours = new CpuGpt(MODEL, loaded.state.weights).forward(tokens, null, 2, T).logits;
    // float32 parameters make float32 logits.
    expectBitIdentical('logits', ours as Float32Array, theirs as Float32Array);
  });

  it('loads the file PyTorch saved (transformer. names, config.json beside it) and gives its logits', async () => {
    const fx = loadTinyFixture();
    const dir = await mkdtemp(join(tmpdir(), 'potluck-origin-'));
    for (const name of ['model.safetensors', 'config.json'])
      await copyFile(new URL(name, GPT2_TINY), join(dir, name));
    const loaded = await fileOrigin(dir, fx.config);
    const logits = new CpuGpt(fx.config, loaded.state.weights).forward(fx.inputs, null, fx.B, fx.T).logits;
    expectClose('logits against PyTorch', logits, fx.logits, 1e-5);
  });

  it('refuses a tensor of another shape, naming it and both shapes', async () => {
    const tensors = hfTensors(MODEL, params).map((t) =>
      t.name === 'h.1.attn.c_attn.weight' ? { ...t, shape: [3 * C, C] } : t,
    );
    const dir = await folderWith({ 'model.safetensors': encodeSafetensors(tensors) });
    const error = await refusal(fileOrigin(dir));
    expect(error.code).toBe('ERR_ORIGIN_SHAPE');
    expect(error.mismatch).toMatchObject({
      tensor: 'h.1.attn.c_attn.weight',
      shape: [48, 16],
      expected: [16, 48],
    });
    expect(error.message).toContain(
      "h.1.attn.c_attn.weight is [48, 16] in the origin, the run's model needs [16, 48]",
    );
  });

  it('refuses a missing tensor and an extra one (a deeper model) by name', async () => {
    const missing = hfTensors(MODEL, params).filter((t) => t.name !== 'ln_f.bias');
    const error = await refusal(
      fileOrigin(await folderWith({ 'model.safetensors': encodeSafetensors(missing) })),
    );
    expect(error.code).toBe('ERR_ORIGIN_MISSING_TENSOR');
    expect(error.message).toContain(`ln_f.bias is missing: the run's model needs it as [${C}]`);

    const deeper = { ...MODEL, nLayer: 3 };
    const extra = hfTensors(deeper, initParams(deeper, 1));
    const error2 = await refusal(
      fileOrigin(await folderWith({ 'model.safetensors': encodeSafetensors(extra) })),
    );
    expect(error2.code).toBe('ERR_ORIGIN_EXTRA_TENSOR');
    expect(error2.mismatch).toMatchObject({ tensor: 'h.2.attn.c_attn.bias', shape: [3 * C], expected: null });
  });

  it('refuses a config.json that describes another model, even where no shape shows it', async () => {
    const bytes = encodeSafetensors(hfTensors(MODEL, params));
    const heads = JSON.stringify(hfConfigJson({ ...MODEL, nHead: 4 }));
    const error = await refusal(
      fileOrigin(await folderWith({ 'model.safetensors': bytes, 'config.json': heads })),
    );
    expect(error.code).toBe('ERR_ORIGIN_CONFIG');
    expect(error.message).toContain("nHead 4 in the origin, 2 in the run's model");
    const notJson = await refusal(
      fileOrigin(await folderWith({ 'model.safetensors': bytes, 'config.json': '{' })),
    );
    expect(notJson.code).toBe('ERR_ORIGIN_CONFIG');
    // The same file with its own config.json loads.
    const own = JSON.stringify(hfConfigJson(MODEL));
    await expect(
      fileOrigin(await folderWith({ 'model.safetensors': bytes, 'config.json': own })),
    ).resolves.toBeTruthy();
  });

  it('refuses a file it cannot read, above the size limit, or not safetensors', async () => {
    const empty = await folderWith({});
    expect((await refusal(fileOrigin(empty))).code).toBe('ERR_ORIGIN_FILE');
    const bytes = encodeSafetensors(hfTensors(MODEL, params));
    const dir = await folderWith({ 'model.safetensors': bytes });
    const tooBig = await refusal(fileOrigin(dir, MODEL, { maxFileBytes: bytes.length - 1 }));
    expect(tooBig.code).toBe('ERR_ORIGIN_FILE');
    expect(tooBig.message).toContain(`is ${bytes.length} bytes, above the ${bytes.length - 1}`);
    await expect(fileOrigin(dir, MODEL, { maxFileBytes: bytes.length })).resolves.toBeTruthy();
    // The default limit leaves room for the model in float64 and more.
    expect(maxOriginFileBytes(MODEL)).toBeGreaterThan(2 * 8 * paramLayout(MODEL).paramCount);
    const garbage = await folderWith({ 'model.safetensors': new Uint8Array([1, 2, 3]) });
    expect((await refusal(fileOrigin(garbage))).code).toBe('ERR_ORIGIN_FILE');
  });

  it('refuses integers and non-finite weights', async () => {
    const ints = hfTensors(MODEL, params).map(
      (t): SafetensorsInput =>
        t.name === 'wpe.weight'
          ? { name: t.name, dtype: 'I32', shape: t.shape, data: new Int32Array(t.data.length) }
          : t,
    );
    const error = await refusal(
      fileOrigin(await folderWith({ 'model.safetensors': encodeSafetensors(ints) })),
    );
    expect(error.code).toBe('ERR_ORIGIN_INVALID');
    const nan = hfTensors(MODEL, params);
    (nan[0]?.data as Float32Array)[3] = Number.NaN;
    const error2 = await refusal(
      fileOrigin(await folderWith({ 'model.safetensors': encodeSafetensors(nan) })),
    );
    expect(error2.code).toBe('ERR_ORIGIN_INVALID');
  });
});

describe('origin run', () => {
  let sql: Sql;
  let ledger: Ledger;
  let checkpointDir: string;
  const states = [1, 2, 3].map((seed) => ({
    weights: initParams(MODEL, seed),
    momentum: initParams(MODEL, seed + 100), // the outer momentum travels with the weights
  }));
  let hashes: string[];
  const sources = (): OriginSources => ({
    runConfig: (id) => ledger.runConfig(id),
    rounds: (id) => ledger.rounds(id),
    archive: (id) => CheckpointStore.open(join(checkpointDir, id), MODEL),
  });

  beforeAll(async () => {
    sql = await openPglite();
    ledger = await Ledger.open(sql, await generateRelaySigner());
    checkpointDir = await mkdtemp(join(tmpdir(), 'potluck-origin-runs-'));
    hashes = await Promise.all(states.map((s) => modelHash(s.weights, s.momentum)));
    await ledger.ensureRun('run-a', { model: MODEL });
    await ledger.ensureRun('run-wide', { model: { ...MODEL, dModel: 32 } });
    await ledger.ensureRun('run-heads', { model: { ...MODEL, nHead: 4 } });
    await ledger.ensureRun('run-empty', { model: MODEL });
    // Run A committed rounds 0-2 and, like a relay with keepCheckpoints 1, keeps only the last two.
    const store = await CheckpointStore.open(join(checkpointDir, 'run-a'), MODEL, 2);
    for (const [round, state] of states.entries()) {
      await store.save(round, hashes[round] as string, state);
      await ledger.commitRound({
        ...roundInput('run-a', round, [credit(0, 10)]),
        modelHash: hashes[round] as string,
      });
    }
  });
  afterAll(() => sql.close());

  it('takes the last committed state, weights and momentum bit for bit', async () => {
    const loaded = await loadOriginState({ kind: 'run', run: 'run-a' }, MODEL, sources());
    expectBitIdentical('weights', loaded.state.weights, states[2]?.weights as Float32Array);
    expectBitIdentical('momentum', loaded.state.momentum, states[2]?.momentum as Float32Array);
    expect(loaded.hash).toBe(hashes[2]);
    expect(loaded.record).toEqual({ kind: 'run', source: 'run-a', round: 2, modelHash: hashes[2] });
  });

  it('takes a kept round by number', async () => {
    const loaded = await loadOriginState({ kind: 'run', run: 'run-a', round: 1 }, MODEL, sources());
    expect(loaded.hash).toBe(hashes[1]);
    expectBitIdentical('weights', loaded.state.weights, states[1]?.weights as Float32Array);
  });

  it.each([
    [{ run: 'run-nope' }, 'ERR_ORIGIN_RUN_UNKNOWN', 'no run run-nope on this relay'],
    [{ run: 'run-empty' }, 'ERR_ORIGIN_ROUND', 'run run-empty has committed no round yet'],
    [{ run: 'run-a', round: 7 }, 'ERR_ORIGIN_ROUND', 'has not committed round 7 (its last is 2)'],
    [{ run: 'run-a', round: 0 }, 'ERR_ORIGIN_STATE_GONE', 'round 0 (', 'it keeps rounds 1, 2'],
    [
      { run: 'run-wide' },
      'ERR_ORIGIN_SHAPE',
      "run run-wide: wte.weight is [64, 32] in the origin, the run's model needs [64, 16]",
    ],
    [{ run: 'run-heads' }, 'ERR_ORIGIN_CONFIG', "nHead 4 in the origin, 2 in the run's model"],
  ])('refuses %j with %s', async (origin, code, ...texts) => {
    const error = await refusal(loadOriginState({ kind: 'run', ...origin }, MODEL, sources()));
    expect(error.code).toBe(code);
    for (const text of texts) expect(error.message).toContain(text);
  });
});
