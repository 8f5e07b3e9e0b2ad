// The model's shape, in GPT-2's own terms, so a checkpoint means the same thing everywhere.

export interface GptConfig {
  /** Token ids are in [0, vocabSize). 256 for the byte-level tokenizer. */
  readonly vocabSize: number;
  /** Longest sequence the learned position embedding covers (GPT-2: n_positions). */
  readonly contextLength: number;
  /** Width of the residual stream (GPT-2: n_embd). */
  readonly dModel: number;
  /** Number of transformer blocks. */
  readonly nLayer: number;
  /** Attention heads per block; dModel must divide evenly. */
  readonly nHead: number;
}

/** LayerNorm epsilon, fixed by GPT-2. */
export const LAYERNORM_EPS = 1e-5;

/** The default model: small enough that a few hundred steps take minutes on SwiftShader. */
export const DEFAULT_MODEL: GptConfig = {
  vocabSize: 256, // byte-level tokenizer
  contextLength: 64, // bytes of context per sequence
  dModel: 128, // residual width
  nLayer: 4, // transformer blocks
  nHead: 4, // head size 32
};

/** Throws a readable error for a shape the model cannot have. */
export function validateConfig(config: GptConfig): void {
  const { vocabSize, contextLength, dModel, nLayer, nHead } = config;
  for (const [name, value] of Object.entries({ vocabSize, contextLength, dModel, nLayer, nHead })) {
    if (!Number.isInteger(value) || value <= 0)
      throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  if (dModel % nHead !== 0) throw new RangeError(`dModel (${dModel}) must be a multiple of nHead (${nHead})`);
  if (dModel % 4 !== 0) throw new RangeError(`dModel (${dModel}) must be a multiple of 4 (vec4 kernels)`);
}
