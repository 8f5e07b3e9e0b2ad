// Our flat parameter buffer as a Hugging Face GPT2LMHeadModel checkpoint, and back: a trained
// model leaves the relay as model.safetensors + config.json that `transformers` loads with
// `GPT2LMHeadModel.from_pretrained(dir)`, and a checkpoint made by PyTorch can seed a run.
//
// The layout already uses Hugging Face's names and Conv1D [in, out] shapes, so tensors are
// copied as they are. lm_head.weight is left out: it is tied to wte, and `save_pretrained`
// leaves it out as well.

import { type GptConfig, LAYERNORM_EPS, validateConfig } from './gpt-config.ts';
import { paramLayout } from './param-layout.ts';
import {
  type DecodedTensor,
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsError,
  type SafetensorsInput,
} from './safetensors.ts';

export type CheckpointErrorCode =
  | SafetensorsError['code'] // the file itself is not valid safetensors
  | 'ERR_CHECKPOINT_MISSING_TENSOR' // a tensor the model needs is absent
  | 'ERR_CHECKPOINT_SHAPE' // a tensor is present with another shape
  | 'ERR_CHECKPOINT_DTYPE' // a tensor holds integers, not floats
  | 'ERR_CHECKPOINT_CONFIG'; // config.json describes a model we cannot run

export interface CheckpointError {
  readonly code: CheckpointErrorCode;
  readonly message: string;
}

export type Checked<T> =
  | ({ readonly ok: true } & T)
  | { readonly ok: false; readonly error: CheckpointError };

/**
 * `transformers` refuses a safetensors file whose metadata lacks a known `format`
 * (modeling_utils' load_state_dict), so every checkpoint says it holds PyTorch tensors.
 */
const FORMAT_METADATA = { format: 'pt' } as const;

/** Hugging Face GPT2Model (no LM head) checkpoints, such as openai-community/gpt2, drop this prefix. */
const LM_MODEL_PREFIX = 'transformer.';

/** Serialises the flat parameters (padding left out) as GPT2LMHeadModel's model.safetensors. */
export function paramsToSafetensors(
  config: GptConfig,
  params: Float32Array,
  metadata: Readonly<Record<string, string>> = {},
  /** More tensors to store beside the model's (a run's outer state); loaders ignore them. */
  extra: readonly SafetensorsInput[] = [],
): Uint8Array {
  const layout = paramLayout(config);
  if (params.length !== layout.totalFloats) {
    throw new RangeError(`params has ${params.length} floats, layout needs ${layout.totalFloats}`);
  }
  const tensors = layout.tensors.map((t) => ({
    name: t.name,
    dtype: 'F32' as const,
    shape: t.shape,
    data: params.subarray(t.offset, t.offset + t.size),
  }));
  return encodeSafetensors([...tensors, ...extra], { ...metadata, ...FORMAT_METADATA });
}

/**
 * Reads a GPT-2 checkpoint into a fresh flat buffer (padding zero). Every tensor of the
 * layout must be present with its exact shape; F16, BF16 and F64 tensors are rounded to
 * float32. Tensors the layout does not know (lm_head.weight, old `attn.bias` mask buffers)
 * are ignored. Never throws.
 */
export function paramsFromSafetensors(
  config: GptConfig,
  bytes: Uint8Array,
): Checked<{ params: Float32Array; metadata: Map<string, string>; tensors: Map<string, DecodedTensor> }> {
  const checked = checkedConfig(config);
  if (!checked.ok) return checked;
  const decoded = decodeSafetensors(bytes);
  if (!decoded.ok) return decoded;
  const layout = paramLayout(config);
  const params = new Float32Array(layout.totalFloats);
  for (const spec of layout.tensors) {
    const tensor = findTensor(decoded.tensors, spec.name);
    if (!tensor) return fail('ERR_CHECKPOINT_MISSING_TENSOR', `no tensor ${spec.name}`);
    const sameShape =
      tensor.shape.length === spec.shape.length && tensor.shape.every((d, i) => d === spec.shape[i]);
    if (!sameShape) {
      return fail(
        'ERR_CHECKPOINT_SHAPE',
        `${spec.name} is [${tensor.shape}], the model needs [${spec.shape}]`,
      );
    }
    if (!(tensor.data instanceof Float32Array || tensor.data instanceof Float64Array)) {
      return fail('ERR_CHECKPOINT_DTYPE', `${spec.name} is ${tensor.dtype}, not a float`);
    }
    params.set(tensor.data, spec.offset);
  }
  return { ok: true, params, metadata: decoded.metadata, tensors: decoded.tensors };
}

function findTensor(tensors: Map<string, DecodedTensor>, name: string): DecodedTensor | undefined {
  const bare = name.startsWith(LM_MODEL_PREFIX) ? name.slice(LM_MODEL_PREFIX.length) : name;
  return tensors.get(name) ?? tensors.get(bare);
}

/** config.json as `transformers` writes it for GPT-2 (GPT2Config), for this model. */
export function hfConfigJson(config: GptConfig): Record<string, unknown> {
  validateConfig(config);
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: config.vocabSize,
    n_positions: config.contextLength,
    n_ctx: config.contextLength, // legacy alias that older readers still look for
    n_embd: config.dModel,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: null, // null means 4 * n_embd, which is what the layout holds
    activation_function: 'gelu_new', // the tanh approximation our GELU computes
    layer_norm_epsilon: LAYERNORM_EPS,
    tie_word_embeddings: true,
    initializer_range: 0.02,
    // We train without dropout; GPT2Config's defaults (0.1) would misdescribe the model.
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    torch_dtype: 'float32',
  };
}

/** Activations that compute the same function as our tanh-approximated GELU. */
const TANH_GELUS = new Set(['gelu_new', 'gelu_pytorch_tanh']);

/**
 * Reads a GPT-2 config.json (ours or one `transformers` wrote). Fields GPT2Config defaults
 * may be absent; fields that would change the computation must match what our kernels do.
 */
export function configFromHfJson(json: unknown): Checked<{ config: GptConfig }> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return fail('ERR_CHECKPOINT_CONFIG', 'config.json is not an object');
  }
  const field = (key: string): unknown =>
    Object.hasOwn(json, key) ? (json as Record<string, unknown>)[key] : undefined;
  const bad = (key: string, want: string) =>
    fail('ERR_CHECKPOINT_CONFIG', `${key} is ${JSON.stringify(field(key))}, expected ${want}`);

  if (field('model_type') !== 'gpt2') return bad('model_type', '"gpt2"');
  const activation = field('activation_function') ?? 'gelu_new';
  if (typeof activation !== 'string' || !TANH_GELUS.has(activation))
    return bad('activation_function', 'gelu_new');
  const eps = field('layer_norm_epsilon') ?? LAYERNORM_EPS;
  if (eps !== LAYERNORM_EPS) return bad('layer_norm_epsilon', String(LAYERNORM_EPS));
  if ((field('tie_word_embeddings') ?? true) !== true) return bad('tie_word_embeddings', 'true');

  const config: GptConfig = {
    vocabSize: field('vocab_size') as number,
    contextLength: field('n_positions') as number,
    dModel: field('n_embd') as number,
    nLayer: field('n_layer') as number,
    nHead: field('n_head') as number,
  };
  const checked = checkedConfig(config);
  if (!checked.ok) return checked;
  const inner = field('n_inner') ?? null;
  if (inner !== null && inner !== 4 * config.dModel) return bad('n_inner', `null or ${4 * config.dModel}`);
  return { ok: true, config };
}

/** validateConfig, with its RangeError turned into a typed error. */
function checkedConfig(config: GptConfig): Checked<object> {
  try {
    validateConfig(config);
    return { ok: true };
  } catch (e) {
    return fail('ERR_CHECKPOINT_CONFIG', e instanceof Error ? e.message : String(e));
  }
}

function fail(code: CheckpointErrorCode, message: string): { ok: false; error: CheckpointError } {
  return { ok: false, error: { code, message } };
}
