// CPU reference for general matrix multiply, the contract every GPU matmul variant is tested
// against: out (M, N) = op(A) @ op(B) [+ bias] [+ out], with op(X) = X or X^T.
// Sums run in float64 (JS numbers), so the reference is more accurate than any fp32 kernel.
//
// The relay redoes whole volunteer rounds with this (relay/rounds/work-check.ts), so it is not
// the textbook triple loop: op(A)'s rows and op(B)'s columns are first copied out contiguous,
// and each output is one dot product over two dense rows. The sum still runs over k in order
// from the same start, so every output is the same double as the plain loop's.

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
  // Row m of op(A) and column n of op(B), each K values in a row.
  const rowsA = transA ? transposed(a, K, M) : dense(a, M * K);
  const colsB = transB ? dense(b, N * K) : transposed(b, K, N);
  for (let m = 0; m < M; m++) {
    const aBase = m * K;
    const outBase = m * N;
    let n = 0;
    // Four outputs at a time share each load of A's row; each keeps its own sum in k order.
    for (; n + 4 <= N; n += 4) {
      const b0 = n * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      let s0 = bias ? (bias[n] as number) : 0;
      let s1 = bias ? (bias[n + 1] as number) : 0;
      let s2 = bias ? (bias[n + 2] as number) : 0;
      let s3 = bias ? (bias[n + 3] as number) : 0;
      for (let k = 0; k < K; k++) {
        const av = rowsA[aBase + k] as number;
        s0 += av * (colsB[b0 + k] as number);
        s1 += av * (colsB[b1 + k] as number);
        s2 += av * (colsB[b2 + k] as number);
        s3 += av * (colsB[b3 + k] as number);
      }
      store(out, outBase + n, s0, accumulate);
      store(out, outBase + n + 1, s1, accumulate);
      store(out, outBase + n + 2, s2, accumulate);
      store(out, outBase + n + 3, s3, accumulate);
    }
    for (; n < N; n++) {
      const bBase = n * K;
      let sum = bias ? (bias[n] as number) : 0;
      for (let k = 0; k < K; k++) sum += (rowsA[aBase + k] as number) * (colsB[bBase + k] as number);
      store(out, outBase + n, sum, accumulate);
    }
  }
}

function store(out: Floats, i: number, sum: number, accumulate: boolean): void {
  out[i] = accumulate ? (out[i] as number) + sum : sum;
}

/** The first `length` values as doubles: one array type keeps the inner loop monomorphic. */
function dense(x: Floats, length: number): Float64Array {
  const d = new Float64Array(length);
  for (let i = 0; i < length; i++) d[i] = x[i] as number;
  return d;
}

/** x stored (rows, cols) returned as (cols, rows). */
function transposed(x: Floats, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c] as number;
  return t;
}
