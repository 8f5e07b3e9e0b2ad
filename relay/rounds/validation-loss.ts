// The relay's own measure of a state: mean cross-entropy on a fixed held-out batch (the first
// sequences of the validation split), computed on the CPU with the reference model in
// kernels/reference/ (plain TypeScript, no GPU; the one part of kernels/ the relay reads). No
// peer's report is involved, so the guard (state-guard.ts) cannot be talked out of a
// rollback, or into one.

import { CpuGpt } from '../../kernels/reference/gpt.ts';
import type { RunConfig } from '../../protocol/run-config.ts';

export type ValidationLoss = (weights: Float32Array) => number;

/**
 * A scorer over `sequences` windows of seqLen + 1 tokens from the start of `valTokens`, or null
 * when the guard is off or the split is too short for one window.
 */
export function validationLoss(config: RunConfig, valTokens: Uint16Array): ValidationLoss | null {
  const T = config.inner.seqLen;
  const B = Math.min(config.guard.validationSequences, Math.floor((valTokens.length - 1) / T));
  if (B <= 0) return null;
  const inputs = new Uint32Array(B * T);
  const targets = new Uint32Array(B * T);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      inputs[b * T + t] = valTokens[b * T + t] as number;
      targets[b * T + t] = valTokens[b * T + t + 1] as number;
    }
  return (weights) => new CpuGpt(config.model, weights).forward(inputs, targets, B, T).loss;
}
