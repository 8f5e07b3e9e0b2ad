// CPU reference for GELU, tanh approximation (GPT-2's "gelu_new").

import type { Floats } from './floats.ts';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const CUBIC = 0.044715;

export function geluForward(out: Floats, inp: Floats, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i] as number;
    out[i] = 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + CUBIC * x * x * x)));
  }
}

/** Accumulates (+=) into dinp. */
export function geluBackward(dinp: Floats, inp: Floats, dout: Floats, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i] as number;
    const u = SQRT_2_OVER_PI * (x + CUBIC * x * x * x);
    const th = Math.tanh(u);
    const sech2 = 1 - th * th;
    const local = 0.5 * (1 + th) + 0.5 * x * sech2 * SQRT_2_OVER_PI * (1 + 3 * CUBIC * x * x);
    dinp[i] = (dinp[i] as number) + local * (dout[i] as number);
  }
}
