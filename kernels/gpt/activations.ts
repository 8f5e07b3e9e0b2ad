// Every GPU buffer the model's forward and backward passes use for one (B, T), allocated once
// and labelled (`h.2.qkv`, `grad.fch`, ...) so validation errors name the tensor involved.

import type { GptConfig } from '../../protocol/gpt-config.ts';
import { FLOAT_BYTES } from '../../protocol/model-memory.ts';
import type { GpuContext } from '../gpu/context.ts';

/** What one block keeps from forward for backward. */
export interface BlockBuffers {
  readonly ln1: GPUBuffer; // (BT, C)
  readonly ln1Mean: GPUBuffer; // (BT)
  readonly ln1Rstd: GPUBuffer; // (BT)
  readonly qkv: GPUBuffer; // (BT, 3C)
  readonly atty: GPUBuffer; // (BT, C)
  readonly lse: GPUBuffer; // (B, NH, T)
  readonly attproj: GPUBuffer; // (BT, C)
  readonly residual2: GPUBuffer; // (BT, C)
  readonly ln2: GPUBuffer; // (BT, C)
  readonly ln2Mean: GPUBuffer; // (BT)
  readonly ln2Rstd: GPUBuffer; // (BT)
  readonly fch: GPUBuffer; // (BT, 4C)
  readonly fchGelu: GPUBuffer; // (BT, 4C)
  readonly fcproj: GPUBuffer; // (BT, C)
  /** The block's output, which is the next block's input. */
  readonly residual3: GPUBuffer; // (BT, C)
}

/** The final LayerNorm, logits and loss buffers: the whole model's, or a last pipeline stage's. */
export interface HeadBuffers {
  readonly lnf: GPUBuffer; // (BT, C)
  readonly lnfMean: GPUBuffer; // (BT)
  readonly lnfRstd: GPUBuffer; // (BT)
  /** Logits, overwritten in place by dlogits when training (the loss is fused). */
  readonly logits: GPUBuffer; // (BT, V)
  readonly losses: GPUBuffer; // (BT)
  readonly targets: GPUBuffer; // (BT) u32
}

export interface Activations extends HeadBuffers {
  /** Embedding output: the first block's input. */
  readonly encoded: GPUBuffer; // (BT, C)
  readonly blocks: readonly BlockBuffers[];
}

/**
 * Backward scratch shared by all blocks (they run one after another). `dresidual` carries the
 * residual stream's gradient down the blocks: every branch's backward accumulates into it.
 */
export interface GradientScratch {
  readonly dresidual: GPUBuffer; // (BT, C)
  readonly dlnf: GPUBuffer; // (BT, C): also reused for dln1 / dln2 / datty
  readonly dfchGelu: GPUBuffer; // (BT, 4C)
  readonly dfch: GPUBuffer; // (BT, 4C)
  readonly dqkv: GPUBuffer; // (BT, 3C)
  readonly datty: GPUBuffer; // (BT, C)
}

/** Makes fp32 storage buffers of a given length, labelled `${prefix}${label}` for GPU debuggers. */
export function floatBuffers(ctx: GpuContext, prefix = ''): (label: string, floats: number) => GPUBuffer {
  return (label, floats) => ctx.createStorage(`${prefix}${label}`, floats * FLOAT_BYTES);
}

export function allocateActivations(ctx: GpuContext, config: GptConfig, B: number, T: number): Activations {
  const { dModel: C, nLayer: L } = config;
  const BT = B * T;
  const f = floatBuffers(ctx);
  const blocks: BlockBuffers[] = [];
  for (let l = 0; l < L; l++) blocks.push(allocateBlockBuffers(ctx, config, B, T, `h.${l}.`));
  return { encoded: f('encoded', BT * C), blocks, ...allocateHeadBuffers(ctx, config, BT, '') };
}

/** The head's buffers, labelled `${prefix}lnf` and so on. */
export function allocateHeadBuffers(
  ctx: GpuContext,
  config: GptConfig,
  BT: number,
  prefix: string,
): HeadBuffers {
  const { dModel: C, vocabSize: V } = config;
  const f = floatBuffers(ctx, prefix);
  return {
    lnf: f('lnf', BT * C),
    lnfMean: f('lnf.mean', BT),
    lnfRstd: f('lnf.rstd', BT),
    logits: f('logits', BT * V),
    losses: f('losses', BT),
    targets: f('targets', BT),
  };
}

/** One block's buffers, labelled `${prefix}ln1` and so on (a pipeline stage uses a slot prefix). */
export function allocateBlockBuffers(
  ctx: GpuContext,
  config: GptConfig,
  B: number,
  T: number,
  prefix: string,
): BlockBuffers {
  const { dModel: C, nHead: NH } = config;
  const BT = B * T;
  const f = floatBuffers(ctx, prefix);
  return {
    ln1: f('ln1', BT * C),
    ln1Mean: f('ln1.mean', BT),
    ln1Rstd: f('ln1.rstd', BT),
    qkv: f('qkv', BT * 3 * C),
    atty: f('atty', BT * C),
    lse: f('lse', B * NH * T),
    attproj: f('attproj', BT * C),
    residual2: f('residual2', BT * C),
    ln2: f('ln2', BT * C),
    ln2Mean: f('ln2.mean', BT),
    ln2Rstd: f('ln2.rstd', BT),
    fch: f('fch', BT * 4 * C),
    fchGelu: f('fch.gelu', BT * 4 * C),
    fcproj: f('fcproj', BT * C),
    residual3: f('residual3', BT * C),
  };
}

export function allocateGradientScratch(ctx: GpuContext, config: GptConfig, BT: number): GradientScratch {
  const C = config.dModel;
  const f = floatBuffers(ctx, 'grad.');
  return {
    dresidual: f('residual', BT * C),
    dlnf: f('ln', BT * C),
    dfchGelu: f('fch.gelu', BT * 4 * C),
    dfch: f('fch', BT * 4 * C),
    dqkv: f('qkv', BT * 3 * C),
    datty: f('atty', BT * C),
  };
}
