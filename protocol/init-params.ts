// GPT-2's initialisation, as Hugging Face's GPT2PreTrainedModel._init_weights and nanoGPT do
// it: every weight matrix and both embeddings ~ N(0, 0.02) (initializer_range), the two
// projections that write into the residual stream (attn.c_proj, mlp.c_proj) scaled down by
// 1/sqrt(2 * nLayer) so the stream's variance does not grow with depth (GPT-2 paper, section
// 2.3), biases 0, LayerNorm gains 1.
//
// Peers starting a run from the same seed should hold bit-identical weights, so the draws come
// from the shared seeded generator in a fixed order (layout order, element by element) and are
// rounded to float32 once; Math.random is never used. One caveat: the generator's normals go
// through Math.log/sin/cos, which ECMAScript does not require to be correctly rounded, so two
// engines could in principle differ in a last bit; the round's model-hash check catches that.

import type { GptConfig } from './gpt-config.ts';
import { blockNames, paramLayout } from './param-layout.ts';
import { createRng, type Rng } from './rng.ts';

/** Hugging Face GPT2Config.initializer_range. */
export const INIT_STD = 0.02;

export interface InitOptions {
  /**
   * Standard deviation of weights and embeddings (default INIT_STD). Tests raise it so that
   * logits are far from uniform and gradients far from zero.
   */
  readonly std?: number;
}

/**
 * A fresh flat parameter buffer (layout of protocol/param-layout.ts) initialised as GPT-2 is.
 * `source` is a seed for protocol/rng.ts's generator, or a generator to draw from (which it
 * advances). Padding floats are zero.
 */
export function initParams(config: GptConfig, source: number | Rng, options: InitOptions = {}): Float32Array {
  const std = options.std ?? INIT_STD;
  const rng = typeof source === 'number' ? createRng(source) : source;
  const layout = paramLayout(config);
  const residualProjections = new Set<string>();
  for (let l = 0; l < config.nLayer; l++) {
    const n = blockNames(l);
    residualProjections.add(n.attprojw).add(n.fcprojw);
  }
  const params = new Float32Array(layout.totalFloats);
  for (const spec of layout.tensors) {
    const tensor = params.subarray(spec.offset, spec.offset + spec.size);
    // The decayed tensors are exactly the weight matrices and embeddings; the rest are
    // biases (0) and LayerNorm parameters (gain 1, bias 0).
    if (spec.decay) {
      const scale = residualProjections.has(spec.name) ? std / Math.sqrt(2 * config.nLayer) : std;
      for (let i = 0; i < tensor.length; i++) tensor[i] = rng.nextNormal() * scale;
    } else if (isLayerNormGain(spec.name)) {
      tensor.fill(1);
    }
  }
  return params;
}

/** LayerNorm gains are `ln_1.weight`, `ln_2.weight` and `ln_f.weight`; every other 1-D tensor is a bias. */
function isLayerNormGain(name: string): boolean {
  return /\.ln_(1|2|f)\.weight$/.test(name);
}
