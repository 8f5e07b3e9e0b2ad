// Matmul dispatches for the GPT model, recorded once at build time and replayed every step:
// general GEMM, the linear layer (forward, backward), the tied classifier and the bias gradient.
// Shape uniforms are written once here; nothing in a returned Dispatch changes between steps.
//
// Constraints callers must know:
// - `out` must not share a GPUBuffer with a, b or bias: WebGPU forbids binding one buffer as
//   writable and read-only storage in the same dispatch, even as disjoint ranges.
// - The vec4 kernels need A's contiguous axis (K, or M when transA), B's (N, or K when transB)
//   and N to be multiples of 4, and 16-byte-aligned offsets (sliceFloats gives 256). Shapes
//   that break this run matmul_forward_scalar.wgsl instead, whatever the tuning says.
import type { Dispatch, GpuContext, Tensor } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import type { GemmShape } from '../reference/gemm.ts';
import biasBackwardSource from '../wgsl/matmul_backward_bias.wgsl?raw';
import common from '../wgsl/matmul_common.wgsl?raw';
import registerKernel from '../wgsl/matmul_forward.wgsl?raw';
import scalarKernel from '../wgsl/matmul_forward_scalar.wgsl?raw';
import sharedKernel from '../wgsl/matmul_forward_shared.wgsl?raw';
import vec4Common from '../wgsl/matmul_vec4.wgsl?raw';
import { assertTuning, resolveTuning, type TuningChoice } from './matmul-tuning.ts';

// The forward kernels with their shared contract and bindings prepended (WGSL has no
// includes), and the two vec4 families with their 4x4 pieces.
const scalarSource = `${common}\n${scalarKernel}`;
const registerSource = `${common}\n${vec4Common}\n${registerKernel}`;
const sharedSource = `${common}\n${vec4Common}\n${sharedKernel}`;

export interface GemmArgs extends GemmShape {
  /** (M, N) */
  readonly out: Tensor;
  /** (M, K), or (K, M) when transA */
  readonly a: Tensor;
  /** (K, N), or (N, K) when transB */
  readonly b: Tensor;
  /** (N), added to every row */
  readonly bias?: Tensor | null;
  readonly label?: string;
}

/** The scalar fallback's workgroup: each invocation owns a 4x4 block. */
const SCALAR_WORKGROUP = [8, 8] as const;

const byteOffset = (r: Tensor) => ('buffer' in r ? r.offset : 0);

/** True when the vec4 kernels can run this shape on these resources (see the file header). */
export function vec4Compatible(shape: GemmShape, resources: readonly Tensor[] = []): boolean {
  const { M, N, K, transA = false, transB = false } = shape;
  const contiguousA = transA ? M : K;
  const contiguousB = transB ? K : N;
  return (
    contiguousA % 4 === 0 &&
    contiguousB % 4 === 0 &&
    N % 4 === 0 &&
    resources.every((r) => byteOffset(r) % 16 === 0)
  );
}

function checkShape(label: string, args: GemmArgs): void {
  const { M, N, K } = args;
  for (const [name, v] of Object.entries({ M, N, K })) {
    if (!Number.isInteger(v) || v < 1) throw new GpuError('ERR_SHAPE', `${label}: ${name} = ${v}`);
  }
  const needs: [string, Tensor | null | undefined, number][] = [
    ['out', args.out, M * N],
    ['a', args.a, M * K],
    ['b', args.b, K * N],
    ['bias', args.bias, N],
  ];
  for (const [name, resource, floats] of needs) {
    if (resource && resource.size < floats * 4) {
      throw new GpuError('ERR_SHAPE', `${label}: ${name} holds ${resource.size} bytes, needs ${floats * 4}`);
    }
  }
}

// Per-device caches of immutable helper buffers: a zero bias for bias-less GEMMs (the binding
// is always present) and shape uniforms, shared by every dispatch of the same shape.
const zeroBias = new WeakMap<GpuContext, GPUBuffer>();
const shapeUniforms = new WeakMap<GpuContext, Map<string, GPUBuffer>>();

function dummyBias(ctx: GpuContext): GPUBuffer {
  let buffer = zeroBias.get(ctx);
  if (!buffer) {
    buffer = ctx.createStorage('matmul:no-bias', 16);
    zeroBias.set(ctx, buffer);
  }
  return buffer;
}

function shapeUniform(ctx: GpuContext, words: readonly number[]): GPUBuffer {
  let perDevice = shapeUniforms.get(ctx);
  if (!perDevice) {
    perDevice = new Map();
    shapeUniforms.set(ctx, perDevice);
  }
  const key = words.join('x');
  let buffer = perDevice.get(key);
  if (!buffer) {
    buffer = ctx.createUniform(`matmul:shape ${key}`, words);
    perDevice.set(key, buffer);
  }
  return buffer;
}

/** out = op(A) @ op(B) [+ bias] [+ out]. One dispatch; see kernels/reference/gemm.ts. */
export function gemmDispatch(ctx: GpuContext, args: GemmArgs, tuning: TuningChoice): Dispatch {
  const { M, N, K, transA = false, transB = false, accumulate = false } = args;
  const label = args.label ?? `gemm ${M}x${K}x${N}${transA ? ' tA' : ''}${transB ? ' tB' : ''}`;
  checkShape(label, args);
  const flags = {
    TRANS_A: transA ? 1 : 0,
    TRANS_B: transB ? 1 : 0,
    HAS_BIAS: args.bias ? 1 : 0,
    ACCUMULATE: accumulate ? 1 : 0,
  };
  const resources = [args.out, args.a, args.b, args.bias ?? dummyBias(ctx), shapeUniform(ctx, [M, N, K, 0])];

  if (!vec4Compatible(args, [args.out, args.a, args.b, ...(args.bias ? [args.bias] : [])])) {
    const [wgX, wgY] = SCALAR_WORKGROUP;
    const spec = {
      name: 'matmul_forward_scalar',
      source: scalarSource,
      constants: { ...flags, WG_X: wgX, WG_Y: wgY },
    };
    return ctx.dispatch(label, spec, resources, [Math.ceil(N / (4 * wgX)), Math.ceil(M / (4 * wgY))]);
  }

  const t = resolveTuning(tuning, args);
  assertTuning(t, ctx.device.limits);
  const blocks = { WG_X: t.wgX, WG_Y: t.wgY, ROW_GROUPS: t.rows / 4, COL_VECS: t.cols / 4 };
  const spec =
    t.family === 'register'
      ? {
          name: 'matmul_forward',
          source: registerSource,
          constants: { ...flags, ...blocks, K_ALIGNED: K % 4 === 0 ? 1 : 0 },
        }
      : {
          name: 'matmul_forward_shared',
          source: sharedSource,
          constants: { ...flags, ...blocks, TILE_K: t.tileK ?? 16 },
        };
  // x covers columns and y rows; y reaches 65535 workgroups x (4..64) rows, far past any M here.
  return ctx.dispatch(label, spec, resources, [
    Math.ceil(N / (t.cols * t.wgX)),
    Math.ceil(M / (t.rows * t.wgY)),
  ]);
}

export interface BiasBackwardArgs {
  /** (N) */
  readonly dbias: Tensor;
  /** (M, N) */
  readonly dout: Tensor;
  readonly M: number;
  readonly N: number;
  /** dbias += sums instead of dbias = sums. */
  readonly accumulate?: boolean;
  readonly label?: string;
}

/** Workgroup shape of matmul_backward_bias.wgsl: wgY rows folded by a tree (a power of two). */
export interface BiasTuning {
  readonly wgX: number;
  readonly wgY: number;
}

/** Software adapters: no tree, no barrier. GPUs: 8 row lanes per column to spread long columns. */
export function defaultBiasTuning(ctx: GpuContext): BiasTuning {
  return ctx.adapter.isSoftware ? { wgX: 64, wgY: 1 } : { wgX: 32, wgY: 8 };
}

/** dbias (N) (+)= column sums of dout (M, N), in a fixed order (bit-reproducible). */
export function biasBackward(
  ctx: GpuContext,
  args: BiasBackwardArgs,
  tuning: BiasTuning = defaultBiasTuning(ctx),
): Dispatch {
  const { M, N, accumulate = false } = args;
  const label = args.label ?? `bias backward ${M}x${N}`;
  if (!Number.isInteger(M) || !Number.isInteger(N) || M < 1 || N < 1) {
    throw new GpuError('ERR_SHAPE', `${label}: M = ${M}, N = ${N}`);
  }
  if (tuning.wgY & (tuning.wgY - 1)) {
    throw new GpuError('ERR_SHAPE', `${label}: wgY = ${tuning.wgY} is not a power of two`);
  }
  if (args.dbias.size < N * 4 || args.dout.size < M * N * 4) {
    throw new GpuError('ERR_SHAPE', `${label}: dbias or dout is smaller than the shape`);
  }
  const spec = {
    name: 'matmul_backward_bias',
    source: biasBackwardSource,
    constants: { ACCUMULATE: accumulate ? 1 : 0, WG_X: tuning.wgX, WG_Y: tuning.wgY },
  };
  const resources = [args.dbias, args.dout, shapeUniform(ctx, [M, N])];
  return ctx.dispatch(label, spec, resources, [Math.ceil(N / tuning.wgX)]);
}

export interface LinearForwardArgs {
  /** (M, N) */
  readonly out: Tensor;
  /** (M, K) */
  readonly inp: Tensor;
  /** (K, N): Conv1D layout, [in, out], as Hugging Face GPT-2 stores it */
  readonly weight: Tensor;
  /** (N) */
  readonly bias?: Tensor | null;
  readonly M: number;
  readonly K: number;
  readonly N: number;
  readonly label?: string;
}

/** out = inp @ weight + bias (kernels/reference/matmul.ts matmulForward). */
export function linearForward(ctx: GpuContext, args: LinearForwardArgs, tuning: TuningChoice): Dispatch[] {
  const { out, inp, weight, bias, M, K, N, label = 'linear' } = args;
  return [gemmDispatch(ctx, { out, a: inp, b: weight, bias, M, N, K, label: `${label} forward` }, tuning)];
}

export interface LinearBackwardArgs {
  /** (M, K); null skips it (a layer whose input needs no gradient) */
  readonly dinp: Tensor | null;
  /** (K, N) */
  readonly dweight: Tensor;
  /** (N); null for a layer without bias */
  readonly dbias: Tensor | null;
  /** (M, N) */
  readonly dout: Tensor;
  /** (M, K) */
  readonly inp: Tensor;
  /** (K, N) */
  readonly weight: Tensor;
  readonly M: number;
  readonly K: number;
  readonly N: number;
  /** Add into dinp / dweight / dbias instead of overwriting them (all default false). */
  readonly accumulateDinp?: boolean;
  readonly accumulateDweight?: boolean;
  readonly accumulateDbias?: boolean;
  readonly label?: string;
}

/**
 * dinp = dout @ weight^T, dweight = inp^T @ dout, dbias = column sums of dout (each optionally
 * accumulated; kernels/reference/matmul.ts matmulBackward accumulates all three).
 */
export function linearBackward(ctx: GpuContext, args: LinearBackwardArgs, tuning: TuningChoice): Dispatch[] {
  const { dinp, dweight, dbias, dout, inp, weight, M, K, N, label = 'linear' } = args;
  const dispatches: Dispatch[] = [];
  if (dinp) {
    const accumulate = args.accumulateDinp ?? false;
    const shape = { M, N: K, K: N, transB: true, accumulate, label: `${label} dinp` };
    dispatches.push(gemmDispatch(ctx, { ...shape, out: dinp, a: dout, b: weight }, tuning));
  }
  const accumulate = args.accumulateDweight ?? false;
  const shape = { M: K, N, K: M, transA: true, accumulate, label: `${label} dweight` };
  dispatches.push(gemmDispatch(ctx, { ...shape, out: dweight, a: inp, b: dout }, tuning));
  if (dbias) {
    const bias = { dbias, dout, M, N, accumulate: args.accumulateDbias ?? false, label: `${label} dbias` };
    dispatches.push(biasBackward(ctx, bias));
  }
  return dispatches;
}

// The tied classifier: wte (V, C) is also the token embedding, so dwte has two writers; the
// classifier writes first (accumulateDwte false) and the embedding backward adds into it.
export interface ClassifierArgs {
  /** (M, V) */
  readonly logits: Tensor;
  /** (M, C), the final layer norm's output */
  readonly x: Tensor;
  /** (V, C), the token embedding, tied */
  readonly wte: Tensor;
  readonly M: number;
  readonly C: number;
  readonly V: number;
}

/** logits = x @ wte^T: the tied output layer. */
export function classifierForward(ctx: GpuContext, args: ClassifierArgs, tuning: TuningChoice): Dispatch {
  const { logits, x, wte, M, C, V } = args;
  const shape = { M, N: V, K: C, transB: true, label: 'classifier forward' };
  return gemmDispatch(ctx, { ...shape, out: logits, a: x, b: wte }, tuning);
}

export interface ClassifierBackwardArgs {
  /** (M, C) */
  readonly dx: Tensor;
  /** (V, C) */
  readonly dwte: Tensor;
  /** (M, V) */
  readonly dlogits: Tensor;
  /** (M, C) */
  readonly x: Tensor;
  /** (V, C) */
  readonly wte: Tensor;
  readonly M: number;
  readonly C: number;
  readonly V: number;
  /** dwte += instead of = (false: the classifier writes first, the embedding adds later). */
  readonly accumulateDwte?: boolean;
}

/** dx = dlogits @ wte, dwte (+)= dlogits^T @ x. */
export function classifierBackward(
  ctx: GpuContext,
  args: ClassifierBackwardArgs,
  tuning: TuningChoice,
): Dispatch[] {
  const { dx, dwte, dlogits, x, wte, M, C, V, accumulateDwte = false } = args;
  const dxShape = { M, N: C, K: V, label: 'classifier dx' };
  const dwteShape = { M: V, N: C, K: M, transA: true, accumulate: accumulateDwte, label: 'classifier dwte' };
  return [
    gemmDispatch(ctx, { ...dxShape, out: dx, a: dlogits, b: wte }, tuning),
    gemmDispatch(ctx, { ...dwteShape, out: dwte, a: dlogits, b: x }, tuning),
  ];
}
