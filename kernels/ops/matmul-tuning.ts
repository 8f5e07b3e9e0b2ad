// What a matmul kernel configuration is, which ones fit a device, and the candidate lists that
// autotune (kernels/gpu/autotune.ts) times. Two families (see the .wgsl headers):
//   register: matmul_forward.wgsl, register blocks and no workgroup memory (software adapters)
//   shared:   matmul_forward_shared.wgsl, workgroup tiles plus register blocks (real GPUs)
import type { GpuContext } from '../gpu/context.ts';
import type { AdapterSummary } from '../gpu/device.ts';
import { GpuError } from '../gpu/errors.ts';
import type { GemmShape } from '../reference/gemm.ts';

/** Bump when a kernel changes in a way that can change which configuration wins. */
export const MATMUL_KERNEL_VERSION = 1;

export type MatmulFamily = 'register' | 'shared';

export interface MatmulTuning {
  readonly family: MatmulFamily;
  /** Workgroup size; x runs along the columns of `out`, y along its rows. */
  readonly wgX: number;
  readonly wgY: number;
  /** Rows of `out` per invocation: 4, 8, 12 or 16 (register), 4 or 8 (shared). */
  readonly rows: number;
  /** Columns of `out` per invocation: 4, 8, 12 or 16 (register), 4 or 8 (shared). */
  readonly cols: number;
  /** Shared family only: depth of one K slab in workgroup memory, a multiple of 4. */
  readonly tileK?: number;
}

/** Chooses a configuration per GEMM shape; autotune's result is one. */
export interface MatmulTuner {
  pick(shape: GemmShape): MatmulTuning;
}

export type TuningChoice = MatmulTuning | MatmulTuner;

export function resolveTuning(choice: TuningChoice, shape: GemmShape): MatmulTuning {
  return 'pick' in choice ? choice.pick(shape) : choice;
}

/** Short, stable name for logs and benchmark tables, e.g. `register 16x16 wg8x4`. */
export function tuningName(t: MatmulTuning): string {
  const base = `${t.family} ${t.rows}x${t.cols} wg${t.wgX}x${t.wgY}`;
  return t.family === 'shared' ? `${base} k${t.tileK ?? 16}` : base;
}

/** Rows and columns of `out` one workgroup covers. */
export function workgroupTile(t: MatmulTuning): { rows: number; cols: number } {
  return { rows: t.rows * t.wgY, cols: t.cols * t.wgX };
}

/** Why `t` is malformed or does not fit `limits`, or null when it is usable. */
export function tuningProblem(t: MatmulTuning, limits: GPUSupportedLimits): string | null {
  const maxBlocks = t.family === 'register' ? 4 : 2;
  for (const [name, value] of [
    ['rows', t.rows],
    ['cols', t.cols],
  ] as const) {
    if (!Number.isInteger(value) || value % 4 !== 0 || value < 4 || value > 4 * maxBlocks) {
      return `${name} must be a multiple of 4 in [4, ${4 * maxBlocks}], got ${value}`;
    }
  }
  if (!Number.isInteger(t.wgX) || !Number.isInteger(t.wgY) || t.wgX < 1 || t.wgY < 1) {
    return `workgroup ${t.wgX}x${t.wgY} is not a positive integer size`;
  }
  if (t.wgX > limits.maxComputeWorkgroupSizeX || t.wgY > limits.maxComputeWorkgroupSizeY) {
    return `workgroup ${t.wgX}x${t.wgY} exceeds the per-axis limits`;
  }
  if (t.wgX * t.wgY > limits.maxComputeInvocationsPerWorkgroup) {
    return `workgroup ${t.wgX}x${t.wgY} exceeds ${limits.maxComputeInvocationsPerWorkgroup} invocations`;
  }
  if (t.family === 'shared') {
    const tileK = t.tileK ?? 16;
    if (!Number.isInteger(tileK) || tileK % 4 !== 0 || tileK < 4) {
      return `tileK must be a positive multiple of 4, got ${tileK}`;
    }
    const { rows, cols } = workgroupTile(t);
    const bytes = tileK * (rows + cols) * 4;
    if (bytes > limits.maxComputeWorkgroupStorageSize) {
      return `tiles need ${bytes} bytes of workgroup memory, over ${limits.maxComputeWorkgroupStorageSize}`;
    }
  }
  return null;
}

export function assertTuning(t: MatmulTuning, limits: GPUSupportedLimits): void {
  const problem = tuningProblem(t, limits);
  if (problem) throw new GpuError('ERR_SHAPE', `matmul tuning ${tuningName(t)}: ${problem}`);
}

const register = (rows: number, cols: number, wgX: number, wgY: number): MatmulTuning => ({
  family: 'register',
  rows,
  cols,
  wgX,
  wgY,
});
const shared = (rows: number, cols: number, wgX: number, wgY: number, tileK: number): MatmulTuning => ({
  family: 'shared',
  rows,
  cols,
  wgX,
  wgY,
  tileK,
});

/**
 * Software adapters (SwiftShader: invocations run four to a SIMD register, every load is a
 * gather, barriers switch coroutines): big register blocks only, since each load then feeds more
 * multiply-adds. Measured on the default model's shapes: 16x16 blocks ~5 GFLOP/s, 8x8 ~3.3,
 * 4x4 ~2.3, the shared family 0.5-1.6. Three candidates, because each 16x16 pipeline takes
 * ~0.3 s to compile there and autotune must stay short.
 */
export const SOFTWARE_CANDIDATES: readonly MatmulTuning[] = [
  register(16, 16, 8, 4),
  register(16, 16, 4, 8),
  register(8, 16, 8, 8),
];

/**
 * Real GPUs: shared-memory tiles of 32 to 64 outputs a side (small tiles give small matrices
 * enough workgroups), plus two register-family configurations for GPUs where workgroup memory
 * does not pay (some integrated and mobile parts).
 */
export const GPU_CANDIDATES: readonly MatmulTuning[] = [
  shared(4, 4, 16, 16, 16),
  shared(8, 8, 8, 8, 16),
  shared(8, 4, 16, 8, 16),
  shared(4, 4, 8, 8, 32),
  register(4, 4, 16, 8),
  register(8, 8, 8, 8),
];

/** The candidates autotune times on this adapter, minus any the device cannot run. */
export function candidatesFor(ctx: GpuContext): MatmulTuning[] {
  const list = ctx.adapter.isSoftware ? SOFTWARE_CANDIDATES : GPU_CANDIDATES;
  return list.filter((t) => tuningProblem(t, ctx.device.limits) === null);
}

/** What to use without autotune: the usual winner on each kind of adapter. */
export function defaultTuning(adapter: AdapterSummary): MatmulTuning {
  return (adapter.isSoftware ? SOFTWARE_CANDIDATES[0] : GPU_CANDIDATES[0]) as MatmulTuning;
}
