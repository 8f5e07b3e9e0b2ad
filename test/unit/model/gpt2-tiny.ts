// Loads the PyTorch reference vectors in test/fixtures/gpt2-tiny (see its README.md) through
// the project's own readers, so a test of the model also exercises the checkpoint path.
import { readFileSync } from 'node:fs';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { configFromHfJson, paramsFromSafetensors } from '../../../protocol/hf-checkpoint.ts';
import { type DecodedTensor, decodeSafetensors } from '../../../protocol/safetensors.ts';

export const GPT2_TINY = new URL('../../fixtures/gpt2-tiny/', import.meta.url);

export interface TinyFixture {
  config: GptConfig;
  params: Float32Array;
  B: number;
  T: number;
  /** (B, T) */
  inputs: Uint16Array;
  /** (B, T): the inputs shifted by one. */
  targets: Uint16Array;
  loss: number;
  /** (B, T, V) */
  logits: Float32Array;
  /** By Hugging Face name, as PyTorch computed them. */
  grads: Map<string, DecodedTensor>;
}

export function fixtureBytes(name: string): Uint8Array {
  return readFileSync(new URL(name, GPT2_TINY));
}

function decodeOrThrow(name: string) {
  const result = decodeSafetensors(fixtureBytes(name));
  if (!result.ok) throw new Error(`${name}: ${result.error.message}`);
  return result.tensors;
}

export function loadTinyFixture(): TinyFixture {
  const json = JSON.parse(readFileSync(new URL('config.json', GPT2_TINY), 'utf8'));
  const config = configFromHfJson(json);
  if (!config.ok) throw new Error(config.error.message);
  const model = paramsFromSafetensors(config.config, fixtureBytes('model.safetensors'));
  if (!model.ok) throw new Error(model.error.message);
  const expected = JSON.parse(readFileSync(new URL('expected.json', GPT2_TINY), 'utf8'));
  const B: number = expected.batch;
  const T: number = expected.seqLen;
  // B rows of T + 1 little-endian uint16 tokens.
  const raw = fixtureBytes('tokens.bin');
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const inputs = new Uint16Array(B * T);
  const targets = new Uint16Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      inputs[b * T + t] = view.getUint16(2 * (b * (T + 1) + t), true);
      targets[b * T + t] = view.getUint16(2 * (b * (T + 1) + t + 1), true);
    }
  }
  const logits = decodeOrThrow('logits.safetensors').get('logits');
  if (logits?.dtype !== 'F32') throw new Error('logits.safetensors has no F32 logits');
  return {
    config: config.config,
    params: model.params,
    B,
    T,
    inputs,
    targets,
    loss: expected.loss,
    logits: logits.data,
    grads: decodeOrThrow('grads.safetensors'),
  };
}
