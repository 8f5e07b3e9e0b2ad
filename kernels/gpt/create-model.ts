// Builds a ready-to-train GpuGpt: autotunes the matmul kernels for this adapter (or reuses the
// cached choice) and loads the initial weights.

import type { GptConfig } from '../../protocol/gpt-config.ts';
import { autotuneMatmul, type TuneCache } from '../gpu/autotune.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { AttentionTuning } from '../ops/attention.ts';
import { modelGemmShapes } from './gemm-shapes.ts';
import { GpuGpt } from './gpu-gpt.ts';

export interface CreateModelOptions {
  readonly B: number;
  readonly T: number;
  /** Initial flat parameters (protocol/init-params.ts or a checkpoint). */
  readonly params: Float32Array;
  readonly tuneCache: TuneCache;
  readonly attention?: Partial<AttentionTuning>;
  readonly log?: (line: string) => void;
}

export async function createModel(
  ctx: GpuContext,
  config: GptConfig,
  options: CreateModelOptions,
): Promise<GpuGpt> {
  const { B, T, tuneCache, log } = options;
  const matmul = await autotuneMatmul(ctx, modelGemmShapes(config, B, T), { cache: tuneCache, log });
  const model = new GpuGpt(ctx, config, { B, T, matmul, attention: options.attention });
  model.setParams(options.params);
  return model;
}
