// Causal multi-head self-attention on the GPU: builders that record the dispatches once per
// model shape (kernels/gpu/context.ts), to be replayed every step. The kernels follow
// FlashAttention-2 (Dao 2023, arXiv:2307.08691): fused, with an online softmax, so no T x T
// scores buffer exists; the forward pass saves only lse (B, NH, T) and the backward pass
// rebuilds the softmax from it. The CPU reference is kernels/reference/attention.ts.
import type { Dispatch, GpuContext, Tensor } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import dkvKernel from '../wgsl/attention_backward_dkv.wgsl?raw';
import dqKernel from '../wgsl/attention_backward_dq.wgsl?raw';
import common from '../wgsl/attention_common.wgsl?raw';
import forwardKernel from '../wgsl/attention_forward.wgsl?raw';

// Each kernel with attention_common.wgsl prepended (WGSL has no includes): the walk over one
// (batch, head), the Row registers and the Params uniform are written once.
const forwardSource = `${common}\n${forwardKernel}`;
const dqSource = `${common}\n${dqKernel}`;
const dkvSource = `${common}\n${dkvKernel}`;

/** Largest head size: the kernels hold a head vector as four 16-float chunks (their `Row`). */
export const ATTENTION_MAX_HEAD_SIZE = 64;
/** Largest rows per thread: the kernels name up to four row states. */
export const ATTENTION_MAX_ROWS = 4;

/** Knobs for autotuning per adapter; every one is a WGSL `override`, so no shader text changes. */
export interface AttentionTuning {
  /** Threads per workgroup, all three kernels. */
  readonly workgroupSize: number;
  /** Query rows per thread in the forward pass: each k and v load serves them all. */
  readonly forwardRows: number;
  /** Query rows per thread in the dq kernel. */
  readonly dqRows: number;
  /** Key rows per thread in the dk/dv kernel. */
  readonly dkvRows: number;
}

/**
 * Best measured on SwiftShader (2 cores) for the default model, B=16 T=64 C=128 NH=4: rows
 * 1 / 2 / 4 took about 28 / 19 / 14 ms forward and 68 / 50 / 37 ms backward; the workgroup
 * size (16 to 128) barely mattered. On real GPUs fewer rows (less register pressure, more
 * threads) may win, above all at head size 64: let the autotuner try 1, 2 and 4.
 */
export const DEFAULT_ATTENTION_TUNING: AttentionTuning = {
  workgroupSize: 64,
  forwardRows: 4,
  dqRows: 4,
  dkvRows: 4,
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
  readonly out: Tensor;
  /** (B, NH, T), written: each query row's log-sum-exp of its scaled scores. */
  readonly lse: Tensor;
  /** (B, T, 3C): each token's [q | k | v]. */
  readonly qkv: Tensor;
}

export interface AttentionBackwardArgs extends AttentionShape {
  /** (B, T, 3C), overwritten (not accumulated). Must not share a GPUBuffer with the inputs. */
  readonly dqkv: Tensor;
  /** (B, T, C) */
  readonly dout: Tensor;
  /** (B, T, 3C) */
  readonly qkv: Tensor;
  /** (B, T, C) and (B, NH, T): what attentionForward wrote. */
  readonly out: Tensor;
  readonly lse: Tensor;
}

/** Records the forward pass: one dispatch writing out and lse. */
export function attentionForward(
  ctx: GpuContext,
  args: AttentionForwardArgs,
  tuning: Partial<AttentionTuning> = {},
): Dispatch[] {
  const { label = 'attention' } = args;
  const { hs, tune } = checkCall(ctx, args, tuning, {
    out: [args.out, 'out'],
    lse: [args.lse, 'lse'],
    qkv: [args.qkv, 'qkv'],
  });
  checkNoAlias(label, [args.out, args.lse], [args.qkv]);
  const resources = [args.out, args.lse, args.qkv];
  const kernel = { name: 'attention_forward', source: forwardSource, rows: tune.forwardRows };
  return [record(ctx, args, `${label}.forward`, kernel, hs, tune.workgroupSize, resources)];
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
  const { hs, tune } = checkCall(ctx, args, tuning, {
    dqkv: [args.dqkv, 'qkv'],
    dout: [args.dout, 'out'],
    qkv: [args.qkv, 'qkv'],
    out: [args.out, 'out'],
    lse: [args.lse, 'lse'],
  });
  checkNoAlias(label, [args.dqkv], [args.dout, args.qkv, args.out, args.lse]);
  const D = ctx.createStorage(`${label}.D`, B * NH * T * 4); // (B, NH, T)
  // The two passes differ in kernel and bindings only.
  const pass = (name: string, source: string, rows: number, resources: Tensor[]) =>
    record(
      ctx,
      args,
      `${label}.${name.slice('attention_'.length)}`,
      { name, source, rows },
      hs,
      tune.workgroupSize,
      resources,
    );
  return [
    pass('attention_backward_dq', dqSource, tune.dqRows, [
      args.dqkv,
      D,
      args.dout,
      args.qkv,
      args.out,
      args.lse,
    ]),
    pass('attention_backward_dkv', dkvSource, tune.dkvRows, [args.dqkv, D, args.dout, args.qkv, args.lse]),
  ];
}

/**
 * One dispatch of an attention kernel: one thread per `rows` rows of one (batch, head), packed
 * back to back so that no workgroup idles when T / rows is small, on a 2-D grid so that the
 * workgroup count may exceed maxComputeWorkgroupsPerDimension (the kernels flatten (x, y) and
 * drop the overshoot). The kernel's Params uniform is made here, once.
 */
function record(
  ctx: GpuContext,
  { B, T, NH }: AttentionShape,
  label: string,
  { name, source, rows }: { name: string; source: string; rows: number },
  hs: number,
  wg: number,
  resources: Tensor[],
): Dispatch {
  const threadsPerHead = Math.ceil(T / rows);
  const threads = B * NH * threadsPerHead;
  const groups = Math.ceil(threads / wg);
  const x = Math.min(groups, ctx.device.limits.maxComputeWorkgroupsPerDimension);
  const params = ctx.createUniform(`${label}.params`, [T, NH, threadsPerHead, threads]);
  return ctx.dispatch(
    label,
    { name, source, constants: { HS: hs, WORKGROUP_SIZE: wg, ROWS: rows } },
    [...resources, params],
    [x, Math.ceil(groups / x)],
  );
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

function resolveTuning(ctx: GpuContext, tuning: Partial<AttentionTuning>): AttentionTuning {
  const tune = { ...DEFAULT_ATTENTION_TUNING, ...tuning };
  const check = (name: keyof AttentionTuning, max: number) => {
    const value = tune[name];
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new GpuError(
        'ERR_SHAPE',
        `attention: tuning ${name} = ${value} must be an integer in [1, ${max}]`,
      );
    }
  };
  const { maxComputeInvocationsPerWorkgroup, maxComputeWorkgroupSizeX } = ctx.device.limits;
  check('workgroupSize', Math.min(maxComputeInvocationsPerWorkgroup, maxComputeWorkgroupSizeX));
  check('forwardRows', ATTENTION_MAX_ROWS);
  check('dqRows', ATTENTION_MAX_ROWS);
  check('dkvRows', ATTENTION_MAX_ROWS);
  return tune;
}

function bufferOf(binding: Tensor): GPUBuffer {
  return 'buffer' in binding ? binding.buffer : binding;
}

/** The three tensor shapes attention binds: (B, T, 3C) like qkv, (B, T, C) like out, (B, NH, T). */
type TensorShape = 'qkv' | 'out' | 'lse';

/**
 * The checks every builder starts with, in this order: the shape (its head size), the tuning,
 * then each binding against its tensor's size (a short one would silently read zeros under
 * robust access).
 */
function checkCall(
  ctx: GpuContext,
  args: AttentionShape,
  tuning: Partial<AttentionTuning>,
  tensors: Record<string, [Tensor, TensorShape]>,
): { hs: number; tune: AttentionTuning } {
  const hs = headSize(args);
  const tune = resolveTuning(ctx, tuning);
  const { B, T, C, NH, label = 'attention' } = args;
  const floatsOf: Record<TensorShape, number> = { qkv: B * T * 3 * C, out: B * T * C, lse: B * NH * T };
  for (const [name, [binding, shape]] of Object.entries(tensors)) {
    const floats = floatsOf[shape];
    if (binding.size < floats * 4) {
      throw new GpuError('ERR_SHAPE', `${label}: ${name} holds ${binding.size} bytes, needs ${floats * 4}`);
    }
  }
  return { hs, tune };
}

/**
 * WebGPU forbids one buffer as writable storage and as anything else in the same dispatch, even
 * in disjoint ranges; say so here rather than as a validation error at submit time.
 */
function checkNoAlias(label: string, written: Tensor[], read: Tensor[]): void {
  const writtenBuffers = written.map(bufferOf);
  if (read.some((binding) => writtenBuffers.includes(bufferOf(binding)))) {
    throw new GpuError('ERR_SHAPE', `${label}: an output shares a GPUBuffer with an input`);
  }
}
