// CPU reference for GPT-2's input: token embedding plus learned position embedding.
// out (B, T, C) = wte[tokens[b, t]] + wpe[t]

import type { Floats } from './floats.ts';

export function encoderForward(
  out: Floats,
  tokens: ArrayLike<number>,
  wte: Floats,
  wpe: Floats,
  B: number,
  T: number,
  C: number,
): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const token = tokens[b * T + t] as number;
      const o = (b * T + t) * C;
      for (let c = 0; c < C; c++) out[o + c] = (wte[token * C + c] as number) + (wpe[t * C + c] as number);
    }
  }
}

/** Accumulates (+=) into dwte and dwpe. */
export function encoderBackward(
  dwte: Floats,
  dwpe: Floats,
  dout: Floats,
  tokens: ArrayLike<number>,
  B: number,
  T: number,
  C: number,
): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const token = tokens[b * T + t] as number;
      const o = (b * T + t) * C;
      for (let c = 0; c < C; c++) {
        const g = dout[o + c] as number;
        dwte[token * C + c] = (dwte[token * C + c] as number) + g;
        dwpe[t * C + c] = (dwpe[t * C + c] as number) + g;
      }
    }
  }
}
