// A run config's origin (protocol/run-origin.ts): what it accepts and refuses, that a config
// without one hashes as before, and the signed record of where a run came from
// (protocol/run-origin-record.ts).
import { describe, expect, it } from 'vitest';
import { canonicalJson, checkRunConfig, DEFAULT_RUN } from '../../../protocol/run-config.ts';
import {
  runOriginMessage,
  type UnsignedRunOrigin,
  verifyRunOrigin,
} from '../../../protocol/run-origin-record.ts';
import { generateRelaySigner } from '../../../relay/ledger/relay-signer.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';

const RUN_ORIGIN = { kind: 'run', run: 'brown-gpt-1a2b3c4d', round: 12 } as const;
const FILE_ORIGIN = { kind: 'file', file: 'models/gpt2/model.safetensors' } as const;

describe('run origin in the run config', () => {
  it('leaves a config without origin, and its hash, as it was', () => {
    const checked = checkRunConfig(DEFAULT_RUN);
    if (!checked.ok) throw new Error(checked.message);
    expect(Object.hasOwn(checked.config, 'origin')).toBe(false);
    expect(canonicalJson(checked.config)).toBe(canonicalJson(DEFAULT_RUN));
    const resolved = resolveRunConfig({});
    if (!resolved.ok) throw new Error(resolved.message);
    expect(canonicalJson(resolved.config)).not.toContain('origin');
  });

  it('takes a run (with or without a round) or a safetensors file, through the operator file', () => {
    for (const origin of [RUN_ORIGIN, { kind: 'run', run: 'brown-gpt-1a2b3c4d' }, FILE_ORIGIN]) {
      const resolved = resolveRunConfig({ origin });
      if (!resolved.ok) throw new Error(resolved.message);
      expect(resolved.config.origin).toEqual(origin);
      expect(canonicalJson(resolved.config)).not.toBe(canonicalJson(DEFAULT_RUN));
    }
  });

  it.each([
    [{ kind: 'run', run: 'brown gpt' }, 'origin.run'],
    [{ kind: 'run', run: 'a', round: -1 }, 'origin.round'],
    [{ kind: 'run', run: 'a', round: 1.5 }, 'origin.round'],
    [{ kind: 'run', run: 'a', rund: 3 }, 'origin'], // strict: a misspelt key is refused
    [{ kind: 'file', file: '' }, 'origin.file'],
    [{ kind: 'file', file: 'model.bin' }, 'origin.file'],
    [{ kind: 'file', file: `${'a'.repeat(1000)}.safetensors` }, 'origin.file'],
    [{ kind: 'file', file: 'a\0.safetensors' }, 'origin.file'],
    [{ kind: 'hub', name: 'gpt2' }, 'origin'],
    ['gpt2', 'origin'],
  ])('refuses %j at %s', (origin, path) => {
    const resolved = resolveRunConfig({ origin });
    expect(resolved.ok).toBe(false);
    if (!resolved.ok) expect(resolved.message).toMatch(new RegExp(`^run config ${path.replace('.', '\\.')}`));
  });

  it('refuses an origin in a pipeline run, by name', () => {
    const resolved = resolveRunConfig({ origin: FILE_ORIGIN, pipeline: {} });
    expect(resolved).toEqual({
      ok: false,
      message:
        'run config origin: a pipeline run cannot start from a model yet: leave out origin, or the pipeline section',
    });
  });
});

describe('run origin record', () => {
  const unsigned: UnsignedRunOrigin = {
    runId: 'brown-gpt-99999999',
    kind: 'file',
    source: 'model|weird "name".safetensors',
    round: null,
    modelHash: 'ab'.repeat(32),
    recordedAt: '2026-01-02T00:00:00.000Z',
  };

  it('is signed by the relay, and any edit breaks the signature', async () => {
    const signer = await generateRelaySigner();
    const record = { ...unsigned, signature: await signer.sign(runOriginMessage(unsigned)) };
    expect(await verifyRunOrigin(record, signer.publicKey)).toBe(true);
    expect(await verifyRunOrigin(record, (await generateRelaySigner()).publicKey)).toBe(false);
    for (const edit of [
      { source: 'other.safetensors' },
      { kind: 'run', round: 3 },
      { modelHash: 'cd'.repeat(32) },
      { recordedAt: '2026-01-03T00:00:00.000Z' },
      { runId: 'brown-gpt-99999998' },
    ])
      expect(await verifyRunOrigin({ ...record, ...edit }, signer.publicKey)).toBe(false);
    expect(await verifyRunOrigin({ ...record, signature: 'x' }, signer.publicKey)).toBe(false);
    expect(await verifyRunOrigin(null, signer.publicKey)).toBe(false);
  });
});
