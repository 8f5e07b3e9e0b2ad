// tfjs-backend-webgpu's matMul, timed on the GPU at one shape: out (M, N) = a (M, K) @ b (K, N),
// or a @ b^T with b stored (N, K) (the tied classifier's logits).
import { type Tfjs, tfjsFinish } from './tfjs-node-webgpu.ts';

export interface BenchIterations {
  /** Untimed runs first: shader compilation, upload of the inputs, buffer-pool warm-up. */
  readonly warmup: number;
  /** Timed runs, enqueued back to back and waited for once. */
  readonly iters: number;
}

export interface MatmulResult {
  readonly gflops: number;
  readonly msPerIter: number;
}

export async function benchTfjsMatmul(
  tf: Tfjs,
  M: number,
  K: number,
  N: number,
  { warmup, iters }: BenchIterations,
  { transposeB = false }: { transposeB?: boolean } = {},
): Promise<MatmulResult> {
  if (iters < 1) throw new RangeError(`iters must be at least 1, got ${iters}`);
  const a = tf.randomUniform([M, K], -1, 1, 'float32', 1); // (M, K)
  const b = tf.randomUniform(transposeB ? [N, K] : [K, N], -1, 1, 'float32', 2); // (K, N) or (N, K)
  const matMul = () => tf.matMul(a, b, false, transposeB);
  try {
    // At least one warm-up run: the first matMul uploads a and b and compiles the pipeline.
    for (let i = 0; i < Math.max(1, warmup); i++) matMul().dispose();
    await tfjsFinish();

    // Disposing right away is safe: tfjs defers freeing a buffer its pending commands still use,
    // and reusing pooled buffers is what a training loop does too.
    const start = performance.now();
    for (let i = 0; i < iters; i++) matMul().dispose();
    await tfjsFinish();
    const ms = performance.now() - start;

    const msPerIter = ms / iters;
    return { gflops: (2 * M * K * N) / (msPerIter * 1e6), msPerIter };
  } finally {
    a.dispose();
    b.dispose();
  }
}
