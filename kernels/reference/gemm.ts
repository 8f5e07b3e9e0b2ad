// CPU reference for general matrix multiply, the contract every GPU matmul variant is tested
// against: out (M, N) = op(A) @ op(B) [+ bias] [+ out], with op(X) = X or X^T.
// Sums run in float64 (JS numbers), so the reference is more accurate than any fp32 kernel.

import type { Floats } from './floats.ts';

export interface GemmShape {
  /** Rows of op(A) and of out. */
  readonly M: number;
  /** Columns of op(B) and of out. */
  readonly N: number;
  /** The reduction dimension. */
  readonly K: number;
  /** A is stored (K, M) instead of (M, K). */
  readonly transA?: boolean;
  /** B is stored (N, K) instead of (K, N). */
  readonly transB?: boolean;
  /** Add into `out` instead of overwriting it (used where a weight gets two gradients). */
  readonly accumulate?: boolean;
}

export function gemm(out: Floats, a: Floats, b: Floats, bias: Floats | null, shape: GemmShape): void {
  const { M, N, K, transA = false, transB = false, accumulate = false } = shape;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = bias ? (bias[n] as number) : 0;
      for (let k = 0; k < K; k++) {
        const av = transA ? a[k * M + m] : a[m * K + k];
        const bv = transB ? b[n * K + k] : b[k * N + n];
        sum += (av as number) * (bv as number);
      }
      out[m * N + n] = accumulate ? (out[m * N + n] as number) + sum : sum;
    }
  }
}
