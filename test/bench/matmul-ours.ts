// Our matmul, timed like test/bench/tfjs/tfjs-matmul.ts times tfjs's: `iters` dispatches in one
// submit, one wait, GFLOP/s = 2 M N K / time. `npm run bench:kernels` uses benchOurMatmul; run
// this file directly for the per-configuration table:
//   node --import tsx --import ./kernels/node/raw-loader.mjs test/bench/matmul-ours.ts
import { pathToFileURL } from 'node:url';
import { autotuneMatmul, type TuneCache } from '../../kernels/gpu/autotune.ts';
import type { GpuContext } from '../../kernels/gpu/context.ts';
import { openNodeContext } from '../../kernels/node/open-context.ts';
import { gemmDispatch } from '../../kernels/ops/matmul.ts';
import {
  GPU_CANDIDATES,
  type MatmulTuning,
  resolveTuning,
  SOFTWARE_CANDIDATES,
  type TuningChoice,
  tuningName,
} from '../../kernels/ops/matmul-tuning.ts';
import type { GemmShape } from '../../kernels/reference/gemm.ts';
import { randomFloats } from '../helpers/compare.ts';
import { memoryTuneCache } from '../helpers/tune-cache-memory.ts';

export interface BenchIterations {
  /** Untimed runs first (pipeline compilation, first touch of the buffers). */
  readonly warmup: number;
  /** Timed dispatches, submitted together and waited for once. */
  readonly iters: number;
  /**
   * Sleep through most of the expected time before waiting on the queue (best of 4 rounds). In
   * Node, Dawn polls for completion with setImmediate while a wait is pending, which keeps one
   * core busy and slows a CPU adapter such as SwiftShader by ~1.5x on two cores. Off by default,
   * to match the tfjs benchmark, which waits the plain way.
   */
  readonly idleWait?: boolean;
}

export interface OurMatmulResult {
  readonly gflops: number;
  readonly msPerIter: number;
  /** The configuration timed, e.g. `register 16x16 wg8x4`. */
  readonly config: string;
}

export interface OurMatmulOptions {
  readonly transA?: boolean;
  readonly transB?: boolean;
  /** Skip autotune and time this configuration (or tuner). */
  readonly tuning?: TuningChoice;
  /** Where autotune keeps its choice; a fresh memory cache by default. */
  readonly cache?: TuneCache;
}

/** Times one configuration on out (M, N) = op(A) @ op(B). */
export async function benchGemm(
  ctx: GpuContext,
  shape: GemmShape,
  tuning: MatmulTuning,
  { warmup, iters, idleWait = false }: BenchIterations,
): Promise<OurMatmulResult> {
  if (iters < 1) throw new RangeError(`iters must be at least 1, got ${iters}`);
  const { M, N, K } = shape;
  const a = ctx.createStorageFrom('bench:a', randomFloats(M * K, 1, 0.5)); // (M, K) or (K, M)
  const b = ctx.createStorageFrom('bench:b', randomFloats(K * N, 2, 0.5)); // (K, N) or (N, K)
  const out = ctx.createStorage('bench:out', M * N * 4); // (M, N)
  try {
    const dispatch = gemmDispatch(ctx, { ...shape, out, a, b, label: 'bench' }, tuning);
    ctx.run(Array(Math.max(1, warmup)).fill(dispatch), 'bench warm-up');
    await ctx.sync();
    // With idleWait, each round sleeps through 3/4 of the previous round's time, so the estimate
    // closes in on the real time from above (a round that oversleeps just measures longer).
    let msPerIter = Number.POSITIVE_INFINITY;
    let previousMs = 0;
    for (let round = 0; round < (idleWait ? 4 : 1); round++) {
      const start = performance.now();
      ctx.run(Array(iters).fill(dispatch), 'bench');
      if (previousMs > 0) await new Promise((resolve) => setTimeout(resolve, 0.75 * previousMs));
      await ctx.sync();
      previousMs = performance.now() - start;
      msPerIter = Math.min(msPerIter, previousMs / iters);
    }
    return { gflops: (2 * M * N * K) / (msPerIter * 1e6), msPerIter, config: tuningName(tuning) };
  } finally {
    a.destroy();
    b.destroy();
    out.destroy();
  }
}

/** Times the configuration autotune picks for this shape (or `options.tuning`). */
export async function benchOurMatmul(
  ctx: GpuContext,
  M: number,
  K: number,
  N: number,
  iterations: BenchIterations,
  options: OurMatmulOptions = {},
): Promise<OurMatmulResult> {
  const shape = { M, N, K, transA: options.transA ?? false, transB: options.transB ?? false };
  const tuning =
    options.tuning ?? (await autotuneMatmul(ctx, [shape], { cache: options.cache ?? memoryTuneCache() }));
  return benchGemm(ctx, shape, resolveTuning(tuning, shape), iterations);
}

/** The default model's GEMMs (dModel 128, 3C = 384, 4C = 512, V = 256, B*T = 1024). */
export const MODEL_SHAPES: readonly (GemmShape & { readonly name: string })[] = [
  { name: 'qkv        NN', M: 1024, K: 128, N: 384 },
  { name: 'attn proj  NN', M: 1024, K: 128, N: 128 },
  { name: 'fc         NN', M: 1024, K: 128, N: 512 },
  { name: 'fc proj    NN', M: 1024, K: 512, N: 128 },
  { name: 'logits     NT', M: 1024, K: 128, N: 256, transB: true },
  { name: 'dW qkv     TN', M: 128, K: 1024, N: 384, transA: true },
];

async function main(): Promise<void> {
  const ctx = await openNodeContext('bench');
  const iterations = { warmup: 1, iters: Number(process.env.ITERS ?? 5), idleWait: !!process.env.IDLE_WAIT };
  console.log(`adapter: ${JSON.stringify(ctx.adapter)}`);
  const configs = [...SOFTWARE_CANDIDATES, ...GPU_CANDIDATES];
  console.log(['config'.padEnd(28), ...MODEL_SHAPES.map((s) => s.name.padStart(14))].join(''));
  for (const tuning of configs) {
    const cells: string[] = [];
    for (const shape of MODEL_SHAPES) {
      const r = await benchGemm(ctx, shape, tuning, iterations);
      cells.push(r.gflops.toFixed(2).padStart(14));
    }
    console.log([tuningName(tuning).padEnd(28), ...cells].join(''));
  }
  const tuner = await autotuneMatmul(ctx, MODEL_SHAPES, { cache: memoryTuneCache(), log: console.log });
  const cells = [];
  for (const shape of MODEL_SHAPES) {
    cells.push((await benchGemm(ctx, shape, tuner.pick(shape), iterations)).gflops.toFixed(2).padStart(14));
  }
  console.log(['autotuned'.padEnd(28), ...cells].join(''));
  ctx.destroy();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
