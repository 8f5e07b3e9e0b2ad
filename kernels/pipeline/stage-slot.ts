// One activation slot of a pipeline stage: everything its forward pass keeps for the backward
// pass of one microbatch. A stage has as many slots as microbatches it may hold in flight; under
// 1F1B that is S − s for stage s (schedule.ts), so the last stage, which alone holds the
// vocabulary-sized logits, needs one.
import type { GptConfig } from '../../protocol/gpt-config.ts';
import type { StageLayout } from '../../protocol/stage-layout.ts';
import {
  allocateBlockBuffers,
  allocateHeadBuffers,
  type BlockBuffers,
  floatBuffers,
  type HeadBuffers,
} from '../gpt/activations.ts';
import type { GpuContext } from '../gpu/context.ts';
import { EncoderInputs } from '../ops/encoder.ts';

export interface StageSlot {
  /** The first block's input: the embedding's output on the first stage, else the boundary activation received. */
  readonly input: GPUBuffer; // (BT, C)
  /** First stage: this microbatch's tokens and their buckets (the embedding's backward reads them). */
  readonly tokens: EncoderInputs | null;
  /** One per layer of the stage, in order. */
  readonly blocks: readonly BlockBuffers[];
  /** Last stage only: the final LayerNorm, logits and loss. */
  readonly head: HeadBuffers | null;
}

export function allocateSlot(
  ctx: GpuContext,
  config: GptConfig,
  layout: StageLayout,
  B: number,
  T: number,
  index: number,
): StageSlot {
  const { dModel: C, vocabSize: V } = config;
  const BT = B * T;
  const prefix = `stage${layout.stage}.slot${index}.`;
  const f = floatBuffers(ctx, prefix);
  const blocks: BlockBuffers[] = [];
  for (let l = layout.layers.start; l < layout.layers.end; l++)
    blocks.push(allocateBlockBuffers(ctx, config, B, T, `${prefix}h.${l}.`));
  return {
    input: f(layout.isFirst ? 'encoded' : 'input', BT * C),
    tokens: layout.isFirst ? new EncoderInputs(ctx, { B, T, C, V }, `${prefix}encoder`) : null,
    blocks,
    head: layout.isLast ? allocateHeadBuffers(ctx, config, BT, prefix) : null,
  };
}

/** Every buffer the slot owns, to destroy. */
export function slotBuffers(slot: StageSlot): GPUBuffer[] {
  const owned = [slot.input];
  if (slot.tokens) owned.push(slot.tokens.tokens, slot.tokens.offsets, slot.tokens.positions);
  for (const block of slot.blocks) owned.push(...Object.values(block));
  if (slot.head) owned.push(...Object.values(slot.head));
  return owned;
}
