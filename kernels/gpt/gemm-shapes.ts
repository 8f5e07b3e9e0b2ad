// Every matrix multiply the model runs for one (B, T), forward and backward: what the start-up
// autotune times (it keeps the largest of each transpose class as that class's representative).

import type { GptConfig } from '../../protocol/gpt-config.ts';
import type { GemmShape } from '../reference/gemm.ts';

export function modelGemmShapes(config: GptConfig, B: number, T: number): GemmShape[] {
  const { dModel: C, vocabSize: V } = config;
  const M = B * T;
  const shapes: GemmShape[] = [];
  // The four linear layers, [in, out]: forward NN, dinp NT, dweight TN.
  for (const [K, N] of [
    [C, 3 * C],
    [C, C],
    [C, 4 * C],
    [4 * C, C],
  ] as const) {
    shapes.push({ M, N, K }, { M, N: K, K: N, transB: true }, { M: K, N, K: M, transA: true });
  }
  // The tied classifier: logits NT, dx NN, dwte TN.
  shapes.push({ M, N: V, K: C, transB: true }, { M, N: C, K: V }, { M: V, N: C, K: M, transA: true });
  return shapes;
}
