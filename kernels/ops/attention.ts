// Causal multi-head self-attention on the GPU: builders that record the dispatches once per
// model shape (kernels/gpu/context.ts), to be replayed every step. The kernels are fused and
// tiled after FlashAttention-2 (Dao 2023, arXiv:2307.08691): no T x T scores buffer exists,
// the forward pass saves only lse (B, NH, T), and the backward pass rebuilds the softmax from
// it. The CPU reference is kernels/reference/attention.ts.
import type { BufferSlice, Dispatch, GpuContext } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import dkvSource from '../wgsl/attention_backward_dkv.wgsl?raw';
import dqSource from '../wgsl/attention_backward_dq.wgsl?raw';
import forwardSource from '../wgsl/attention_forward.wgsl?raw';

type Binding = GPUBuffer | BufferSlice;

/** Largest head size the kernels take: their private arrays hold MAX_HS4 = 16 vec4s. */
export const ATTENTION_MAX_HEAD_SIZE = 64;
/** Largest rows-per-thread (MAX_ROWS in the .wgsl files). */
export const ATTENTION_MAX_ROWS = 4;
/** Largest key block of the forward pass (MAX_BLOCK_K in attention_forward.wgsl). */
export const ATTENTION_MAX_KEY_BLOCK = 16;

/** Knobs for autotuning per adapter; every one is a WGSL `override`, so no shader text changes. */
export interface AttentionTuning {
  /** Threads per workgroup, all three kernels. */
  readonly workgroupSize: number;
  /** Query rows per thread in the forward pass: each k and v load serves them all. */
  readonly forwardRows: number;
  /** Keys scored between two online-softmax rescales in the forward pass. */
  readonly keyBlock: number;
  /** Query rows per thread in the dq kernel. */
  readonly dqRows: number;
  /** Key rows per thread in the dk/dv kernel. */
  readonly dkvRows: number;
}

/** Measured best on SwiftShader for the default model (B=16, T=64, C=128, NH=4). */
export const DEFAULT_ATTENTION_TUNING: AttentionTuning = {
  workgroupSize: 64,
  forwardRows: 1,
  keyBlock: 8,
  dqRows: 1,
  dkvRows: 1,
};

export interface AttentionShape {
  readonly B: number;
  readonly T: number;
  readonly C: number;
  readonly NH: number;
  /** Prefix of every GPU object's label, e.g. `h.3.attn`. */
  readonly label?: string;
}

export interface AttentionForwardArgs extends AttentionShape {
  /** (B, T, C), written. */
  readonly out: Binding;
  /** (B, NH, T), written: each query row's log-sum-exp of its scaled scores. */
  readonly lse: Binding;
  /** (B, T, 3C): each token's [q | k | v]. */
  readonly qkv: Binding;
}

export interface AttentionBackwardArgs extends AttentionShape {
  /** (B, T, 3C), overwritten (not accumulated). Must not share a GPUBuffer with the inputs. */
  readonly dqkv: Binding;
  /** (B, T, C) */
  readonly dout: Binding;
  /** (B, T, 3C) */
  readonly qkv: Binding;
  /** (B, T, C) and (B, NH, T): what attentionForward wrote. */
  readonly out: Binding;
  readonly lse: Binding;
}

/** Records the forward pass: one dispatch writing out and lse. */
export function attentionForward(
  ctx: GpuContext,
  args: AttentionForwardArgs,
  tuning: Partial<AttentionTuning> = {},
): Dispatch[] {
  const { T, NH, label = 'attention' } = args;
  const hs = headSize(args);
  const tune = resolveTuning(tuning);
  const rows = tune.forwardRows;
  const wg = tune.workgroupSize;
  const grid = queryGrid(ctx, args, wg, rows);
  const params = ctx.createUniform(`${label}.forward.params`, [T, NH, grid.blocks, grid.groups]);
  return [
    ctx.dispatch(
      `${label}.forward`,
      {
        name: 'attention_forward',
        source: forwardSource,
        constants: { HS: hs, WORKGROUP_SIZE: wg, ROWS: rows, BLOCK_K: tune.keyBlock },
      },
      [args.out, args.lse, args.qkv, params],
      grid.workgroups,
    ),
  ];
}

/**
 * Records the backward pass: dq (which also writes D = dout . out per row into a scratch
 * buffer made here), then dk and dv. They must run in this order; within one compute pass
 * WebGPU makes the first dispatch's writes visible to the second.
 */
export function attentionBackward(
  ctx: GpuContext,
  args: AttentionBackwardArgs,
  tuning: Partial<AttentionTuning> = {},
): Dispatch[] {
  const { B, T, NH, label = 'attention' } = args;
  const hs = headSize(args);
  const tune = resolveTuning(tuning);
  const wg = tune.workgroupSize;
  const D = ctx.createStorage(`${label}.D`, B * NH * T * 4); // (B, NH, T)

  const dqGrid = queryGrid(ctx, args, wg, tune.dqRows);
  const dqParams = ctx.createUniform(`${label}.backward_dq.params`, [T, NH, dqGrid.blocks, dqGrid.groups]);
  const dq = ctx.dispatch(
    `${label}.backward_dq`,
    {
      name: 'attention_backward_dq',
      source: dqSource,
      constants: { HS: hs, WORKGROUP_SIZE: wg, ROWS: tune.dqRows },
    },
    [args.dqkv, D, args.dout, args.qkv, args.out, args.lse, dqParams],
    dqGrid.workgroups,
  );

  const dkvGrid = queryGrid(ctx, args, wg, tune.dkvRows);
  const dkvParams = ctx.createUniform(`${label}.backward_dkv.params`, [
    T,
    NH,
    dkvGrid.blocks,
    dkvGrid.groups,
  ]);
  const dkv = ctx.dispatch(
    `${label}.backward_dkv`,
    {
      name: 'attention_backward_dkv',
      source: dkvSource,
      constants: { HS: hs, WORKGROUP_SIZE: wg, ROWS: tune.dkvRows },
    },
    [args.dqkv, D, args.dout, args.qkv, args.lse, dkvParams],
    dkvGrid.workgroups,
  );
  return [dq, dkv];
}

/** Head size C / NH; throws ERR_SHAPE unless it is a multiple of 4 in [4, 64]. */
function headSize({ B, T, C, NH }: AttentionShape): number {
  for (const [name, value] of Object.entries({ B, T, C, NH })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new GpuError('ERR_SHAPE', `attention: ${name} = ${value} is not a positive integer`);
    }
  }
  const hs = C / NH;
  // vec4 loads need hs % 4 == 0; the private arrays cap it (see ATTENTION_MAX_HEAD_SIZE).
  if (!Number.isInteger(hs) || hs % 4 !== 0 || hs > ATTENTION_MAX_HEAD_SIZE) {
    throw new GpuError(
      'ERR_SHAPE',
      `attention: head size C/NH = ${C}/${NH} must be a multiple of 4 and at most ${ATTENTION_MAX_HEAD_SIZE}`,
    );
  }
  return hs;
}

function resolveTuning(tuning: Partial<AttentionTuning>): AttentionTuning {
  const tune = { ...DEFAULT_ATTENTION_TUNING, ...tuning };
  const check = (name: keyof AttentionTuning, max: number) => {
    const value = tune[name];
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new GpuError('ERR_SHAPE', `attention: tuning ${name} = ${value} must be an integer in [1, ${max}]`);
    }
  };
  check('workgroupSize', 1024);
  check('forwardRows', ATTENTION_MAX_ROWS);
  check('dqRows', ATTENTION_MAX_ROWS);
  check('dkvRows', ATTENTION_MAX_ROWS);
  check('keyBlock', ATTENTION_MAX_KEY_BLOCK);
  return tune;
}

interface Grid {
  /** Workgroups per (batch, head). */
  readonly blocks: number;
  /** Workgroups in all: B * NH * blocks. */
  readonly groups: number;
  readonly workgroups: readonly [number, number];
}

/**
 * One workgroup per block of WORKGROUP_SIZE * rows rows of one (batch, head), laid out on a
 * 2-D grid so that B * NH * blocks may exceed maxComputeWorkgroupsPerDimension; the kernels
 * flatten (x, y) and drop the overshoot.
 */
function queryGrid(ctx: GpuContext, { B, T, NH }: AttentionShape, wg: number, rows: number): Grid {
  const blocks = Math.ceil(T / (wg * rows));
  const groups = B * NH * blocks;
  const limit = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  const x = Math.min(groups, limit);
  return { blocks, groups, workgroups: [x, Math.ceil(groups / x)] };
}
