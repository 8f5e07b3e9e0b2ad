// What recording a pass of the GPU model needs: the device, the shapes, the buffers, and how
// to bind one named tensor of the flat parameter or gradient buffer.

import type { GptConfig } from '../../protocol/gpt-config.ts';
import { blockNames } from '../../protocol/param-layout.ts';
import type { BufferSlice, GpuContext } from '../gpu/context.ts';
import type { AttentionTuning } from '../ops/attention.ts';
import type { EncoderInputs } from '../ops/encoder.ts';
import type { TuningChoice } from '../ops/matmul-tuning.ts';
import type { Activations } from './activations.ts';

export interface PassContext {
  readonly ctx: GpuContext;
  readonly config: GptConfig;
  readonly B: number;
  readonly T: number;
  readonly acts: Activations;
  readonly inputs: EncoderInputs;
  /** A parameter tensor by Hugging Face name, bound as a slice of the flat buffer. */
  readonly param: (name: string) => BufferSlice;
  /** The gradient of a parameter tensor, likewise. */
  readonly grad: (name: string) => BufferSlice;
  readonly matmul: TuningChoice;
  readonly attention?: Partial<AttentionTuning>;
}

/**
 * What recording one block or the head needs: no whole-model activations, no token inputs. A
 * pipeline stage (kernels/pipeline/gpu-stage.ts) records its own layer range with it.
 */
export type BlockPass = Pick<
  PassContext,
  'ctx' | 'config' | 'B' | 'T' | 'param' | 'grad' | 'matmul' | 'attention'
>;

/** The sizes a pass's kernels take, forward or backward: width, heads, vocabulary, rows (B·T). */
export function passSizes(pass: BlockPass) {
  const { dModel: C, nHead: NH, vocabSize: V } = pass.config;
  return { C, NH, V, N: pass.B * pass.T };
}

/** What recording block `layer` adds: its tensors' names and its dispatches' labels. */
export function blockScope(pass: BlockPass, layer: number) {
  return { ...passSizes(pass), names: blockNames(layer), label: `h.${layer}` };
}
