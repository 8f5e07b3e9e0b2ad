// CPU reference for a linear layer with Conv1D weights ([in, out], as Hugging Face GPT-2
// stores them): out (M, N) = inp (M, K) @ weight (K, N) + bias (N).

import type { Floats } from './floats.ts';
import { gemm } from './gemm.ts';

export function matmulForward(
  out: Floats,
  inp: Floats,
  weight: Floats,
  bias: Floats | null,
  M: number,
  K: number,
  N: number,
): void {
  gemm(out, inp, weight, bias, { M, N, K });
}

/** Accumulates (+=) into dinp, dweight and dbias; callers zero them first. */
export function matmulBackward(
  dinp: Floats,
  dweight: Floats,
  dbias: Floats | null,
  dout: Floats,
  inp: Floats,
  weight: Floats,
  M: number,
  K: number,
  N: number,
): void {
  // dinp (M, K) += dout (M, N) @ weight^T (N, K)
  gemm(dinp, dout, weight, null, { M, N: K, K: N, transB: true, accumulate: true });
  // dweight (K, N) += inp^T (K, M) @ dout (M, N)
  gemm(dweight, inp, dout, null, { M: K, N, K: M, transA: true, accumulate: true });
  if (dbias) {
    // Row by row (dout is row-major); each column still sums over m in order.
    const sums = new Float64Array(N);
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) sums[n] = (sums[n] as number) + (dout[m * N + n] as number);
    for (let n = 0; n < N; n++) dbias[n] = (dbias[n] as number) + (sums[n] as number);
  }
}
