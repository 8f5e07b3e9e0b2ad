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

/**
 * The largest shape any peer is asked to build. A run config comes over the network, and a
 * shape's arithmetic (the parameter layout lists every tensor of every layer) runs before any
 * GPU says no: these caps keep a hostile or mistaken config from exhausting a volunteer's memory
 * on the CPU. They sit far above what fits a browser tab today (GPT-2 XL: 50,257 / 1,024 /
 * 1,600 / 48 / 25).
 */
export const MAX_GPT_DIMENSIONS: Readonly<GptConfig> = {
  vocabSize: 2 ** 20,
  contextLength: 2 ** 16,
  dModel: 2 ** 15,
  nLayer: 1024,
  nHead: 1024,
};

/**
 * Parameters, all together: the flat fp32 buffers are indexed with u32 in the kernels, and a
 * peer holds several of them (weights, gradients, moments, residual).
 */
export const MAX_PARAMETERS = 2 ** 31;

/** GPT-2's parameter count for a shape, without building its layout (param-layout.ts does). */
export function gptParameterCount(m: GptConfig): number {
  const perBlock = 12 * m.dModel * m.dModel + 13 * m.dModel;
  return m.vocabSize * m.dModel + m.contextLength * m.dModel + m.nLayer * perBlock + 2 * m.dModel;
}

const count = (name: keyof GptConfig) =>
  v.pipe(
    v.number(),
    v.check(
      (x) => Number.isSafeInteger(x) && x >= 1,
      (issue) => `${name} must be a positive integer, got ${issue.input}`,
    ),
    v.check(
      (x) => x <= MAX_GPT_DIMENSIONS[name],
      (issue) => `${name} must be at most ${MAX_GPT_DIMENSIONS[name]}, got ${issue.input}`,
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
  v.forward(
    v.check(
      (m) => gptParameterCount(m) <= MAX_PARAMETERS,
      (issue) => `${gptParameterCount(issue.input)} parameters exceed ${MAX_PARAMETERS}`,
    ),
    ['dModel'],
  ),
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
