// Bytes of GPU memory a model needs, counted from the buffers the kernels allocate, so the page
// can show a volunteer what a run will take. Padding floats count: the GPU allocates them.
import type { GptConfig } from './gpt-config.ts';
import { paramLayout } from './param-layout.ts';

export const FLOAT_BYTES = 4;

/**
 * Floats a data-parallel volunteer keeps per parameter: weights, gradients, AdamW's two moments,
 * and the compressor's round start, accumulator and error-feedback residual.
 */
export const VOLUNTEER_FLOATS_PER_PARAM = 7;

/** About the GPU memory a data-parallel volunteer needs to train `model` on (B, T) batches. */
export function volunteerMemoryBytes(model: GptConfig, B: number, T: number): number {
  const { vocabSize: V, dModel: C, nHead: NH, nLayer: L } = model;
  const BT = B * T;
  // Activations, in 4-byte words, by the part of the model that holds them:
  const activationWords =
    // the input to the first block (the residual stream)
    BT * C +
    // the encoder's tokens and positions, and V + 1 bucket offsets for its backward pass
    2 * BT +
    V +
    1 +
    // each block (kernels/gpt/activations.ts): ln1, atty, attproj, residual2, ln2, fcproj,
    // residual3 (C each), qkv (3C), fch and its GELU (4C each), four LayerNorm statistics, and
    // the attention's log-sum-exp per head
    L * (BT * (18 * C + 4) + B * NH * T) +
    // the head: lnf and its two statistics, logits, losses and targets
    BT * (C + 4 + V) +
    // the backward scratch: dresidual, dln, datty (C each), dqkv (3C), dfch, dfchGelu (4C each);
    // the clip's 2
    14 * BT * C +
    2;
  const paramBytes = paramLayout(model).totalFloats * FLOAT_BYTES * VOLUNTEER_FLOATS_PER_PARAM;
  return paramBytes + FLOAT_BYTES * activationWords;
}
