// The model's shape, in GPT-2's own terms, so a checkpoint means the same thing everywhere. The
// schema holds every rule a shape must meet: the run config (run-config.ts) parses the model
// section with it on every volunteer, and the train command and the planner check hand-made
// shapes against it (validateConfig).
import * as v from 'valibot';

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

const count = (name: keyof GptConfig) =>
  v.pipe(
    v.number(),
    v.check(
      (x) => Number.isSafeInteger(x) && x >= 1,
      (issue) => `${name} must be a positive integer, got ${issue.input}`,
    ),
  );

export const GptConfigSchema = v.pipe(
  v.object({
    vocabSize: count('vocabSize'),
    contextLength: count('contextLength'),
    dModel: count('dModel'),
    nLayer: count('nLayer'),
    nHead: count('nHead'),
  }),
  // Heads split the residual stream evenly (head size dModel / nHead).
  v.forward(
    v.check(
      (m) => m.dModel % m.nHead === 0,
      (issue) => `dModel (${issue.input.dModel}) must be a multiple of nHead (${issue.input.nHead})`,
    ),
    ['dModel'],
  ),
  // The kernels load and store the residual stream as vec4<f32>.
  v.forward(
    v.check(
      (m) => m.dModel % 4 === 0,
      (issue) => `dModel (${issue.input.dModel}) must be a multiple of 4 (vec4 kernels)`,
    ),
    ['dModel'],
  ),
);

/** Throws a RangeError naming the first rule of GptConfigSchema that `config` breaks. */
export function validateConfig(config: GptConfig): void {
  const parsed = v.safeParse(GptConfigSchema, config);
  if (!parsed.success) throw new RangeError(parsed.issues[0].message);
}
