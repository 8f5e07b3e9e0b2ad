// LayerNorm builders: forward writes out, mean, rstd (all overwritten); backward accumulates
// into dinp and overwrites dweight, dbias. C must be a multiple of 4.

import { LAYERNORM_EPS } from '../../protocol/gpt-config.ts';
import type { Dispatch, GpuContext, Tensor } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { gridFor, requireVec4, withGridEntry } from '../gpu/grid.ts';
import backwardKernel from '../wgsl/layernorm_backward.wgsl?raw';
import reduceKernel from '../wgsl/layernorm_backward_reduce.wgsl?raw';
import forwardKernel from '../wgsl/layernorm_forward.wgsl?raw';

/** Rows per thread-per-row workgroup. */
const WORKGROUP_SIZE = 64;
/** Rows per partial column sum in the backward; see layernorm_backward.wgsl. */
const ROWS_PER_CHUNK = 64;

export interface LayerNormShape {
  /** Rows (B * T). */
  readonly N: number;
  /** Row width, a multiple of 4. */
  readonly C: number;
}

/** out (N, C), mean (N), rstd (N), all overwritten, from inp (N, C), weight (C), bias (C). */
export function layernormForward(
  ctx: GpuContext,
  t: { out: Tensor; mean: Tensor; rstd: Tensor; inp: Tensor; weight: Tensor; bias: Tensor },
  { N, C }: LayerNormShape,
  label = 'layernorm',
): Dispatch[] {
  requireVec4(label, C);
  const params = ctx.createUniform(`${label}:params`, [N, C / 4]);
  return [
    ctx.dispatch(
      `${label}:forward`,
      {
        name: 'layernorm_forward',
        source: withGridEntry(forwardKernel),
        constants: { WORKGROUP_SIZE, EPS: LAYERNORM_EPS },
      },
      [t.out, t.mean, t.rstd, t.inp, t.weight, t.bias, params],
      gridFor(ctx, N, WORKGROUP_SIZE),
    ),
  ];
}

export interface LayerNormBackwardTensors {
  /** (N, C), accumulated into. */
  readonly dinp: Tensor;
  /** (C), overwritten. */
  readonly dweight: Tensor;
  /** (C), overwritten. */
  readonly dbias: Tensor;
  readonly dout: Tensor;
  readonly inp: Tensor;
  readonly weight: Tensor;
  readonly mean: Tensor;
  readonly rstd: Tensor;
}

/**
 * dinp += ..., dweight = ..., dbias = ... (see layernorm_backward.wgsl). Two dispatches; the
 * per-chunk partial column sums live in a scratch buffer made here, (chunks, 2, C) floats.
 */
export function layernormBackward(
  ctx: GpuContext,
  t: LayerNormBackwardTensors,
  { N, C }: LayerNormShape,
  label = 'layernorm',
  rowsPerChunk = ROWS_PER_CHUNK,
): Dispatch[] {
  requireVec4(label, C);
  if (!(Number.isInteger(rowsPerChunk) && rowsPerChunk >= 1)) {
    throw new GpuError('ERR_SHAPE', `${label}: rowsPerChunk ${rowsPerChunk} is not a positive integer`);
  }
  const c4 = C / 4;
  const chunks = Math.ceil(N / rowsPerChunk);
  const partials = ctx.createStorage(`${label}:backward:partials`, chunks * 2 * C * 4); // (chunks, 2, C)
  const params = ctx.createUniform(`${label}:backward:params`, [N, c4, chunks]);
  const reduceParams = ctx.createUniform(`${label}:backward:reduce:params`, [c4, chunks]);
  const constants = { WORKGROUP_SIZE, ROWS_PER_CHUNK: rowsPerChunk };
  return [
    ctx.dispatch(
      `${label}:backward`,
      { name: 'layernorm_backward', source: withGridEntry(backwardKernel), constants },
      [t.dinp, partials, t.dout, t.inp, t.weight, t.mean, t.rstd, params],
      gridFor(ctx, N + chunks * c4, WORKGROUP_SIZE),
    ),
    ctx.dispatch(
      `${label}:backward:reduce`,
      {
        name: 'layernorm_backward_reduce',
        source: withGridEntry(reduceKernel),
        constants: { WORKGROUP_SIZE },
      },
      [t.dweight, t.dbias, partials, reduceParams],
      [Math.ceil(c4 / WORKGROUP_SIZE)],
    ),
  ];
}
