// CPU reference for global-norm gradient clipping (torch.nn.utils.clip_grad_norm_).

import type { Floats } from './floats.ts';

export function globalNorm(grads: Floats, n = grads.length): number {
  return Math.sqrt(sumOfSquares(grads, n));
}

/** The squared L2 norm of the first n values, added up in float64 in index order. */
export function sumOfSquares(grads: Floats, n = grads.length): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (grads[i] as number) * (grads[i] as number);
  return sum;
}

/** The factor gradients are multiplied by, exactly as torch computes it. */
export function clipScale(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}
