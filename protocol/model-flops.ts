// FLOPs one stage spends per token, what pipeline credits will be split by. The convention is
// PaLM's (Chowdhery et al. 2022, appendix B), itself Kaplan et al. 2020's table 1 with the
// attention term counted in full: a forward pass costs 2 FLOPs per weight a token is multiplied
// by, plus 4·T·C per layer for attention's two T-long products (QKᵀ and the weighted sum of V),
// the causal mask not halving it. The backward pass costs twice the forward (a gradient for the
// input and one for the weights, each as large as the forward product), so training is 3×
// forward: over all stages 6·N + 12·L·T·C per token, N the multiplied weights.
//
// Embedding lookups, LayerNorms, GELU, biases and the softmax are left out, as both papers do:
// they are O(C) per token beside the O(C²) products.
import type { GptConfig } from './gpt-config.ts';
import type { StageLayout } from './stage-layout.ts';

export interface StageFlops {
  /** Weights a token is multiplied by on this stage: 12·C² per layer, plus V·C for the head. */
  readonly matmulParams: number;
  /** Forward FLOPs per token. */
  readonly forward: number;
  /** Forward and backward FLOPs per token: 3 × forward. */
  readonly training: number;
}

/** Per-token FLOPs of `stage` for sequences of T tokens. */
export function stageFlopsPerToken(
  config: GptConfig,
  stage: Pick<StageLayout, 'layers' | 'isLast'>,
  T: number,
): StageFlops {
  if (!(Number.isInteger(T) && T >= 1 && T <= config.contextLength))
    throw new RangeError(`sequence length ${T} must be in [1, ${config.contextLength}]`);
  const { dModel: C, vocabSize: V } = config;
  const layers = stage.layers.end - stage.layers.start;
  // Per layer: qkv C×3C, attention projection C×C, MLP C×4C and 4C×C.
  const matmulParams = layers * 12 * C * C + (stage.isLast ? V * C : 0);
  const forward = 2 * matmulParams + layers * 4 * T * C;
  return { matmulParams, forward, training: 3 * forward };
}

/**
 * Training FLOPs of `tokens` tokens through a model of `paramCount` parameters: 6·N·D (Kaplan et
 * al. 2020), exact as a bigint. What a data-parallel round credits each peer for.
 */
export function trainingFlops(paramCount: number, tokens: number): bigint {
  return 6n * BigInt(paramCount) * BigInt(tokens);
}
