// Whether a model a run would start from fits the run's model: the same tensors with the same
// shapes, named as Hugging Face's GPT-2 names them (protocol/param-layout.ts), and the same
// numbers that shapes do not show (heads). The first difference is reported by name with both
// shapes, so an operator can tell a 2-layer file from a 4-layer config at a glance.
import type { GptConfig } from '../../protocol/gpt-config.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import { MOMENTUM_TENSOR } from '../../protocol/round-state-file.ts';

/** GPT2Model checkpoints (openai-community/gpt2) drop this prefix; GPT2LMHeadModel's keep it. */
const MODEL_PREFIX = 'transformer.';

/**
 * Tensors a GPT-2 file may hold beyond the model's: the LM head (tied to wte), the causal-mask
 * buffers older `transformers` saved, and a Potluck state file's outer momentum (checked by
 * protocol/round-state-file.ts).
 */
const IGNORED = [/^lm_head\.weight$/, /^h\.\d+\.attn\.(masked_)?bias$/, new RegExp(`^${MOMENTUM_TENSOR}$`)];

export interface ShapeMismatch {
  readonly code: 'ERR_ORIGIN_MISSING_TENSOR' | 'ERR_ORIGIN_EXTRA_TENSOR' | 'ERR_ORIGIN_SHAPE';
  /** The tensor's name without the `transformer.` prefix. */
  readonly tensor: string;
  /** Its shape in the origin; null when the origin lacks it. */
  readonly shape: readonly number[] | null;
  /** Its shape in the run's model; null when the model has no such tensor. */
  readonly expected: readonly number[] | null;
  readonly message: string;
}

export function bareTensorName(name: string): string {
  return name.startsWith(MODEL_PREFIX) ? name.slice(MODEL_PREFIX.length) : name;
}

/** The model's tensors by bare name, with their shapes. */
export function modelShapes(model: GptConfig): Map<string, readonly number[]> {
  return new Map(paramLayout(model).tensors.map((t) => [bareTensorName(t.name), t.shape]));
}

/**
 * The first tensor of `found` (names with or without the prefix) that `model` lacks, that is
 * missing, or that has another shape; null when they fit.
 */
export function shapeMismatch(
  found: ReadonlyMap<string, readonly number[]>,
  model: GptConfig,
): ShapeMismatch | null {
  const bare = new Map([...found].map(([name, shape]) => [bareTensorName(name), shape]));
  const expected = modelShapes(model);
  for (const [tensor, want] of expected) {
    const shape = bare.get(tensor);
    if (!shape)
      return {
        code: 'ERR_ORIGIN_MISSING_TENSOR',
        tensor,
        shape: null,
        expected: want,
        message: `${tensor} is missing: the run's model needs it as ${show(want)}`,
      };
    if (shape.length !== want.length || shape.some((d, i) => d !== want[i]))
      return {
        code: 'ERR_ORIGIN_SHAPE',
        tensor,
        shape,
        expected: want,
        message: `${tensor} is ${show(shape)} in the origin, the run's model needs ${show(want)}`,
      };
  }
  // In name order, so the same file gets the same answer whatever order its writer chose.
  for (const [tensor, shape] of [...bare].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (expected.has(tensor) || IGNORED.some((pattern) => pattern.test(tensor))) continue;
    return {
      code: 'ERR_ORIGIN_EXTRA_TENSOR',
      tensor,
      shape,
      expected: null,
      message: `${tensor} ${show(shape)} is in the origin, but the run's model has no such tensor`,
    };
  }
  return null;
}

/** The model numbers in which `origin` differs from `model` ('nHead 4 there, 2 here'), or null. */
export function configMismatch(origin: GptConfig, model: GptConfig): string | null {
  const keys = ['vocabSize', 'contextLength', 'dModel', 'nLayer', 'nHead'] as const;
  const differ = keys.filter((key) => origin[key] !== model[key]);
  if (differ.length === 0) return null;
  return differ
    .map((key) => `${key} ${origin[key]} in the origin, ${model[key]} in the run's model`)
    .join('; ');
}

function show(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
