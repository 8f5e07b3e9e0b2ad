// The sample worker's interface as the leaderboard sees it through comlink: the model the board
// writes with, on the viewer's GPU. One declaration types both sides.
import type { AdapterSummary } from '../../../kernels/gpu/device.ts';
import type { GpuErrorCode } from '../../../kernels/gpu/errors.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import type { CheckpointError } from '../../../protocol/hf-checkpoint.ts';

/** Whether this browser can run the model: answered, never thrown, so the page can say why not. */
export type GpuProbe =
  | { readonly kind: 'ready'; readonly adapter: AdapterSummary }
  | { readonly kind: 'unavailable'; readonly code: GpuErrorCode; readonly message: string };

/** A checkpoint that does not fit the run's model comes back as its error, not a throw. */
export type CheckpointLoad = { readonly ok: true } | { readonly ok: false; readonly error: CheckpointError };

export interface SampleWorkerApi {
  /** Acquires the worker's GPU. */
  probe(): Promise<GpuProbe>;
  /**
   * Reads a safetensors checkpoint (protocol/hf-checkpoint.ts) into the GPU model for `model`,
   * built for (B, T) = (1, contextLength) on first use and kept while the shape stays.
   * The bytes are given to the worker, not copied.
   */
  load(model: GptConfig, checkpoint: Uint8Array): Promise<CheckpointLoad>;
  /** The loaded model's logits (vocabSize) at position `last` of `inputs` (contextLength ids). */
  nextLogits(inputs: Uint32Array, last: number): Promise<Float32Array>;
}
