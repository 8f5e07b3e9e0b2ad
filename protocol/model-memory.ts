// Bytes of GPU memory a model needs, counted from the buffers the kernels allocate: the page
// shows a volunteer what a run will take, and the pipeline planner checks that each stage fits
// its volunteer (relay/pipeline/stage-cost.ts). Padding floats count: the GPU allocates them.
import type { GptConfig } from './gpt-config.ts';
import { paramLayout } from './param-layout.ts';

export const FLOAT_BYTES = 4;

/**
 * Floats a data-parallel volunteer keeps per parameter: weights, gradients, AdamW's two moments,
 * and the compressor's round start, accumulator and error-feedback residual.
 */
export const VOLUNTEER_FLOATS_PER_PARAM = 7;

/** Activation memory of one (B, T) batch, in 4-byte words, by the part of the model that holds it. */
export interface ActivationWords {
  /** The input to the first block held (the residual stream), BT·C. */
  readonly input: number;
  /** The encoder's inputs on the first stage: tokens and positions (BT each), V + 1 bucket offsets. */
  readonly encoder: number;
  /**
   * One block (kernels/gpt/activations.ts's allocateBlockBuffers): ln1, atty, attproj,
   * residual2, ln2, fcproj, residual3 (C each), qkv (3C), fch and its GELU (4C each): 18·C per
   * token, four LayerNorm statistics, and the attention's log-sum-exp per head.
   */
  readonly block: number;
  /** The head on the last stage: lnf (C) and its two statistics, logits (V), losses and targets. */
  readonly head: number;
  /**
   * The backward scratch, once per model or stage (GradientScratch): dresidual, dln, datty (C
   * each), dqkv (3C), dfch and dfchGelu (4C each); the clip's 2.
   */
  readonly scratch: number;
}

export function activationWords(model: GptConfig, B: number, T: number): ActivationWords {
  const { vocabSize: V, dModel: C, nHead: NH } = model;
  const BT = B * T;
  return {
    input: BT * C,
    encoder: 2 * BT + V + 1,
    block: BT * (18 * C + 4) + B * NH * T,
    head: BT * (C + 4 + V),
    scratch: 14 * BT * C + 2,
  };
}

/** About the GPU memory a data-parallel volunteer needs to train `model` on (B, T) batches. */
export function volunteerMemoryBytes(model: GptConfig, B: number, T: number): number {
  const words = activationWords(model, B, T);
  const activations = words.input + words.encoder + model.nLayer * words.block + words.head + words.scratch;
  return (
    paramLayout(model).totalFloats * FLOAT_BYTES * VOLUNTEER_FLOATS_PER_PARAM + FLOAT_BYTES * activations
  );
}
