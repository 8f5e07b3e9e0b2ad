// The flat parameter buffer: every tensor of the model at a fixed offset, named as in Hugging
// Face's GPT2LMHeadModel and shaped as there (Conv1D weights are [in, out]). All peers share
// this layout, so it must not depend on the adapter.
//
// Order: every tensor that gets weight decay (the 2-D ones, as in GPT-2/nanoGPT) comes first,
// so AdamW decays the single prefix [0, decayEnd) of the buffer. Each tensor starts on a
// 64-float (256-byte) boundary, the largest storage-binding offset alignment WebGPU allows,
// so any tensor can be bound on its own; padding floats are zero and stay zero.
import type { GptConfig } from './gpt-config.ts';
import { validateConfig } from './gpt-config.ts';

export const TENSOR_ALIGN_FLOATS = 64;

export interface TensorSpec {
  /** Hugging Face GPT2LMHeadModel name, e.g. `transformer.h.0.attn.c_attn.weight`. */
  readonly name: string;
  readonly shape: readonly number[];
  /** Offset into the flat buffer, in floats. A multiple of TENSOR_ALIGN_FLOATS. */
  readonly offset: number;
  /** Number of floats (product of shape). */
  readonly size: number;
  /** True for weight-decayed tensors (2-D weights and embeddings). */
  readonly decay: boolean;
}

export interface ParamLayout {
  readonly tensors: readonly TensorSpec[];
  /** Floats in the flat buffer, padding included. */
  readonly totalFloats: number;
  /** Decayed tensors lie in [0, decayEnd). */
  readonly decayEnd: number;
  /** Number of real parameters (padding excluded): what credits count. */
  readonly paramCount: number;
  /** Look a tensor up by its Hugging Face name; throws on an unknown name. */
  get(name: string): TensorSpec;
}

/** A block's modules, each with a weight and a bias: our short name, then Hugging Face's. */
const BLOCK_MODULES = {
  ln1: 'ln_1',
  qkv: 'attn.c_attn',
  attproj: 'attn.c_proj',
  ln2: 'ln_2',
  fc: 'mlp.c_fc',
  fcproj: 'mlp.c_proj',
} as const;

/** `qkvw` is the qkv module's weight, `qkvb` its bias. */
export type BlockTensor = `${keyof typeof BLOCK_MODULES}${'w' | 'b'}`;

/** Names of one block's tensors, `h.{l}.` included, in module order, each weight before its bias. */
export function blockNames(layer: number): Readonly<Record<BlockTensor, string>> {
  const names: Partial<Record<BlockTensor, string>> = {};
  for (const [short, module] of Object.entries(BLOCK_MODULES) as [keyof typeof BLOCK_MODULES, string][]) {
    names[`${short}w`] = `transformer.h.${layer}.${module}.weight`;
    names[`${short}b`] = `transformer.h.${layer}.${module}.bias`;
  }
  return names as Record<BlockTensor, string>;
}

export const WTE = 'transformer.wte.weight';
export const WPE = 'transformer.wpe.weight';
export const LNF_WEIGHT = 'transformer.ln_f.weight';
export const LNF_BIAS = 'transformer.ln_f.bias';

export function paramLayout(config: GptConfig): ParamLayout {
  validateConfig(config);
  const { vocabSize: V, contextLength: T, dModel: C, nLayer: L } = config;
  const decayed: Array<[string, number[]]> = [
    [WTE, [V, C]],
    [WPE, [T, C]],
  ];
  const plain: Array<[string, number[]]> = [];
  for (let l = 0; l < L; l++) {
    const n = blockNames(l);
    decayed.push([n.qkvw, [C, 3 * C]], [n.attprojw, [C, C]], [n.fcw, [C, 4 * C]], [n.fcprojw, [4 * C, C]]);
    plain.push(
      [n.ln1w, [C]],
      [n.ln1b, [C]],
      [n.qkvb, [3 * C]],
      [n.attprojb, [C]],
      [n.ln2w, [C]],
      [n.ln2b, [C]],
      [n.fcb, [4 * C]],
      [n.fcprojb, [C]],
    );
  }
  plain.push([LNF_WEIGHT, [C]], [LNF_BIAS, [C]]);

  const tensors: TensorSpec[] = [];
  let offset = 0;
  let paramCount = 0;
  let decayEnd = 0;
  const place = (entries: Array<[string, number[]]>, decay: boolean) => {
    for (const [name, shape] of entries) {
      const size = shape.reduce((a, b) => a * b, 1);
      tensors.push({ name, shape, offset, size, decay });
      paramCount += size;
      offset = alignUp(offset + size, TENSOR_ALIGN_FLOATS);
    }
  };
  place(decayed, true);
  decayEnd = offset;
  place(plain, false);

  const byName = new Map(tensors.map((t) => [t.name, t]));
  return {
    tensors,
    totalFloats: offset,
    decayEnd,
    paramCount,
    get(name) {
      const spec = byName.get(name);
      if (!spec) throw new RangeError(`no tensor named ${name} in this model`);
      return spec;
    },
  };
}

function alignUp(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

/**
 * Zeroes the alignment padding between tensors (and after the last). Padding is no parameter:
 * nothing reads it, a checkpoint does not carry it, and a state read back from one has zeros
 * there. An update that wrote into it (a 1-bit frame decodes every sent index to ±scale, padding
 * included) would leave weights that no longer hash the same after a round trip through a file.
 */
export function zeroPadding(values: Float32Array, layout: ParamLayout): void {
  let end = 0;
  for (const tensor of layout.tensors) {
    values.fill(0, end, tensor.offset);
    end = tensor.offset + tensor.size;
  }
  values.fill(0, end, layout.totalFloats);
}
