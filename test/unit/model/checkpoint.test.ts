// Flat parameters <-> Hugging Face GPT2LMHeadModel checkpoint (model.safetensors + config.json).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CheckpointFileError,
  readCheckpoint,
  writeCheckpoint,
} from '../../../kernels/node/checkpoint-files.ts';
import { DEFAULT_MODEL, type GptConfig } from '../../../protocol/gpt-config.ts';
import {
  configFromHfJson,
  hfConfigJson,
  paramsFromSafetensors,
  paramsToSafetensors,
} from '../../../protocol/hf-checkpoint.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsInput,
} from '../../../protocol/safetensors.ts';
import { expectBitIdentical } from '../../helpers/compare.ts';
import { fixtureBytes, loadTinyFixture } from './gpt2-tiny.ts';

const TINY: GptConfig = { vocabSize: 16, contextLength: 8, dModel: 8, nLayer: 2, nHead: 2 };

/** The fixture's tensors, editable, for making broken checkpoints. */
function fixtureTensors(): SafetensorsInput[] {
  const decoded = decodeSafetensors(fixtureBytes('model.safetensors'));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return [...decoded.tensors].map(([name, t]) => {
    if (t.dtype !== 'F32') throw new Error(`${name} is ${t.dtype}`);
    return { name, dtype: 'F32', shape: t.shape, data: t.data };
  });
}

describe('checkpoint', () => {
  it('round-trips parameters bit for bit, padding zero', () => {
    const params = initParams(DEFAULT_MODEL, 7);
    const bytes = paramsToSafetensors(DEFAULT_MODEL, params, { step: '42' });
    const back = paramsFromSafetensors(DEFAULT_MODEL, bytes);
    if (!back.ok) throw new Error(back.error.message);
    expectBitIdentical('params', back.params, params);
    expect(back.metadata.get('step')).toBe('42');
    expect(back.metadata.get('format')).toBe('pt');
    // No padding in the file: exactly the real parameters, and no lm_head (tied to wte).
    const decoded = decodeSafetensors(bytes);
    if (!decoded.ok) throw new Error(decoded.error.message);
    const floats = [...decoded.tensors.values()].reduce((n, t) => n + t.data.length, 0);
    expect(floats).toBe(paramLayout(DEFAULT_MODEL).paramCount);
    expect(decoded.tensors.has('lm_head.weight')).toBe(false);
  });

  it('matches the names and shapes of a PyTorch-saved GPT2LMHeadModel', () => {
    const fx = loadTinyFixture();
    const ours = decodeSafetensors(paramsToSafetensors(fx.config, fx.params));
    const theirs = decodeSafetensors(fixtureBytes('model.safetensors'));
    if (!ours.ok || !theirs.ok) throw new Error('decode failed');
    expect([...ours.tensors.keys()].sort()).toEqual([...theirs.tensors.keys()].sort());
    for (const [name, t] of theirs.tensors) {
      expect(ours.tensors.get(name)?.shape, name).toEqual(t.shape);
      expect(ours.tensors.get(name)?.data, name).toEqual(t.data);
    }
  });

  it('reads GPT2Model checkpoints without the transformer. prefix', () => {
    const tensors = fixtureTensors().map((t) => ({ ...t, name: t.name.replace(/^transformer\./, '') }));
    const fx = loadTinyFixture();
    const back = paramsFromSafetensors(fx.config, encodeSafetensors(tensors));
    if (!back.ok) throw new Error(back.error.message);
    expectBitIdentical('params', back.params, fx.params);
  });

  it('gives typed errors for missing, misshapen and integer tensors', () => {
    const { config } = loadTinyFixture();
    const tensors = fixtureTensors();
    const code = (list: SafetensorsInput[]) => {
      const r = paramsFromSafetensors(config, encodeSafetensors(list));
      return r.ok ? 'ok' : r.error.code;
    };
    expect(code(tensors)).toBe('ok');
    expect(code(tensors.filter((t) => t.name !== 'transformer.h.1.ln_2.bias'))).toBe(
      'ERR_CHECKPOINT_MISSING_TENSOR',
    );
    const wpe = 'transformer.wpe.weight';
    const reshaped = tensors.map((t) => (t.name === wpe ? { ...t, shape: [32, 16] } : t));
    expect(code(reshaped)).toBe('ERR_CHECKPOINT_SHAPE');
    const ints = tensors.map((t) =>
      t.name === wpe ? { name: wpe, dtype: 'I32' as const, shape: t.shape, data: new Int32Array(512) } : t,
    );
    expect(code(ints)).toBe('ERR_CHECKPOINT_DTYPE');
    const garbage = paramsFromSafetensors(config, new Uint8Array([1, 2, 3]));
    expect(garbage.ok || garbage.error.code).toBe('ERR_SAFETENSORS_TRUNCATED');
  });

  it('round-trips config.json and reads the fixture config', () => {
    const json = JSON.parse(JSON.stringify(hfConfigJson(DEFAULT_MODEL)));
    expect(json).toMatchObject({
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      n_positions: DEFAULT_MODEL.contextLength,
      n_ctx: DEFAULT_MODEL.contextLength,
      activation_function: 'gelu_new',
      tie_word_embeddings: true,
    });
    expect(configFromHfJson(json)).toEqual({ ok: true, config: DEFAULT_MODEL });
    expect(loadTinyFixture().config).toEqual({
      vocabSize: 256,
      contextLength: 16,
      dModel: 32,
      nLayer: 2,
      nHead: 4,
    });
  });

  it('refuses configs our kernels cannot run, with typed errors', () => {
    const good = hfConfigJson(TINY);
    const variants: Array<Record<string, unknown> | unknown> = [
      null,
      [],
      { ...good, model_type: 'llama' },
      { ...good, activation_function: 'relu' },
      { ...good, layer_norm_epsilon: 1e-6 },
      { ...good, tie_word_embeddings: false },
      { ...good, n_inner: 64 },
      { ...good, n_head: 3 },
      { ...good, n_embd: '8' },
      { ...good, vocab_size: undefined },
    ];
    for (const v of variants) {
      const result = configFromHfJson(v);
      expect(result.ok || result.error.code, JSON.stringify(v)).toBe('ERR_CHECKPOINT_CONFIG');
    }
  });

  it('writes and reads a checkpoint folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'potluck-checkpoint-'));
    try {
      const params = initParams(TINY, 3);
      await writeCheckpoint(join(dir, 'run'), TINY, params, { step: '1' });
      const back = await readCheckpoint(join(dir, 'run'));
      expect(back.config).toEqual(TINY);
      expectBitIdentical('params', back.params, params);
      expect(back.metadata.get('step')).toBe('1');

      await expect(readCheckpoint(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ERR_CHECKPOINT_IO' });
      await writeFile(join(dir, 'run', 'config.json'), '{not json');
      await expect(readCheckpoint(join(dir, 'run'))).rejects.toBeInstanceOf(CheckpointFileError);
      await expect(readCheckpoint(join(dir, 'run'))).rejects.toMatchObject({ code: 'ERR_CHECKPOINT_CONFIG' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
