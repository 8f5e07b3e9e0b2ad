// CPU reference for the fused softmax + cross-entropy that ends the model: per position the
// loss -log softmax(logits)[target], and the gradient of `gradScale * sum(losses)` with
// respect to the logits, (softmax - onehot(target)) * gradScale. With gradScale = 1/N the
// gradient is that of the mean loss.

import type { Floats } from './floats.ts';

export function crossEntropyForwardBackward(
  losses: Floats,
  dlogits: Floats | null,
  logits: Floats,
  targets: ArrayLike<number>,
  N: number,
  V: number,
  gradScale: number,
): void {
  for (let i = 0; i < N; i++) {
    const o = i * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[o + v] as number);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp((logits[o + v] as number) - max);
    const logSumExp = max + Math.log(sum);
    const target = targets[i] as number;
    losses[i] = logSumExp - (logits[o + target] as number);
    if (!dlogits) continue;
    for (let v = 0; v < V; v++) {
      const p = Math.exp((logits[o + v] as number) - logSumExp);
      dlogits[o + v] = (p - (v === target ? 1 : 0)) * gradScale;
    }
  }
}
