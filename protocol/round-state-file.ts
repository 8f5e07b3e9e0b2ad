// A committed round's outer state as one file: the weights as a Hugging Face GPT2LMHeadModel
// checkpoint (protocol/hf-checkpoint.ts) plus the outer Nesterov momentum as one extra flat
// tensor. `transformers` loads it as a model and ignores the extra tensor; a late joiner
// loads both and takes the next outer step exactly as the peers that were there all along.
// Its model hash (protocol/model-hash.ts) covers both.

import type { GptConfig } from './gpt-config.ts';
import { paramsFromSafetensors, paramsToSafetensors } from './hf-checkpoint.ts';
import { modelHash } from './model-hash.ts';
import { paramLayout } from './param-layout.ts';

export const MOMENTUM_TENSOR = 'potluck.outer_momentum';

export interface RoundState {
  readonly weights: Float32Array;
  readonly momentum: Float32Array;
}

export type RoundStateCheck =
  | { readonly ok: true; readonly state: RoundState; readonly hash: string }
  | { readonly ok: false; readonly code: 'ERR_STATE_INVALID' | 'ERR_STATE_HASH'; readonly message: string };

export function encodeRoundState(
  config: GptConfig,
  state: RoundState,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const momentum = {
    name: MOMENTUM_TENSOR,
    dtype: 'F32' as const,
    shape: [state.momentum.length],
    data: state.momentum,
  };
  return paramsToSafetensors(config, state.weights, metadata, [momentum]);
}

/**
 * Reads a state file (from the relay or a peer: untrusted) and checks it hashes to
 * `expectedHash`; a file without momentum is a plain checkpoint, read with zero momentum
 * (a run seeded from a pretrained model). Never throws.
 */
export async function decodeRoundState(
  config: GptConfig,
  bytes: Uint8Array,
  expectedHash: string | null,
): Promise<RoundStateCheck> {
  const parsed = paramsFromSafetensors(config, bytes);
  if (!parsed.ok) return { ok: false, code: 'ERR_STATE_INVALID', message: parsed.error.message };
  const n = paramLayout(config).totalFloats;
  const tensor = parsed.tensors.get(MOMENTUM_TENSOR);
  let momentum: Float32Array = new Float32Array(n);
  if (tensor) {
    if (!(tensor.data instanceof Float32Array) || tensor.data.length !== n)
      return {
        ok: false,
        code: 'ERR_STATE_INVALID',
        message: `${MOMENTUM_TENSOR} is not ${n} float32 values`,
      };
    momentum = tensor.data;
  }
  // A model with a NaN or an infinity in it trains nothing: whoever sent it, it is not a state
  // to adopt, store or serve.
  const nonFinite = firstNonFinite(parsed.params) ?? firstNonFinite(momentum);
  if (nonFinite !== null)
    return { ok: false, code: 'ERR_STATE_INVALID', message: `the state holds ${nonFinite}` };
  const hash = await modelHash(parsed.params, momentum);
  if (expectedHash !== null && hash !== expectedHash)
    return {
      ok: false,
      code: 'ERR_STATE_HASH',
      message: `state hashes to ${hash}, expected ${expectedHash}`,
    };
  return { ok: true, state: { weights: parsed.params, momentum }, hash };
}

function firstNonFinite(values: Float32Array): string | null {
  for (let i = 0; i < values.length; i++)
    if (!Number.isFinite(values[i])) return `${values[i]} at float ${i}`;
  return null;
}
