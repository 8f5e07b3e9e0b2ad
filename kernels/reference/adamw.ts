// CPU reference for AdamW with decoupled weight decay (Loshchilov & Hutter, as in
// torch.optim.AdamW): decay applies to the prefix [0, decayEnd) of the flat buffer only
// (see protocol/param-layout.ts), and gradients are first multiplied by `gradScale` (the
// global-norm clip factor).

import type { Floats } from './floats.ts';

/** The optimizer's own settings, shared by this reference and the GPU builder (kernels/ops/adamw.ts). */
export interface AdamWSettings {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** 1-based step count, for the bias corrections. */
  readonly step: number;
}

export interface AdamWHyper extends AdamWSettings {
  /** Elements [0, decayEnd) get weight decay. */
  readonly decayEnd: number;
  /** Multiplies every gradient first (global-norm clipping). */
  readonly gradScale: number;
}

export function adamwStep(
  params: Floats,
  grads: Floats,
  m: Floats,
  v: Floats,
  n: number,
  h: AdamWHyper,
): void {
  const correction1 = 1 - h.beta1 ** h.step;
  const correction2 = 1 - h.beta2 ** h.step;
  for (let i = 0; i < n; i++) {
    const g = (grads[i] as number) * h.gradScale;
    const mi = h.beta1 * (m[i] as number) + (1 - h.beta1) * g;
    const vi = h.beta2 * (v[i] as number) + (1 - h.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const update = mi / correction1 / (Math.sqrt(vi / correction2) + h.eps);
    const decay = i < h.decayEnd ? h.weightDecay * (params[i] as number) : 0;
    params[i] = (params[i] as number) - h.lr * (update + decay);
  }
}
