// CPU reference for LayerNorm over the last dimension (GPT-2: eps 1e-5, biased variance).
// Saves each row's mean and reciprocal standard deviation for the backward pass.
import { LAYERNORM_EPS } from '../../protocol/gpt-config.ts';

import type { Floats } from './floats.ts';

export function layernormForward(
  out: Floats,
  mean: Floats,
  rstd: Floats,
  inp: Floats,
  weight: Floats,
  bias: Floats,
  N: number,
  C: number,
): void {
  for (let i = 0; i < N; i++) {
    const o = i * C;
    let m = 0;
    for (let c = 0; c < C; c++) m += inp[o + c] as number;
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) {
      const d = (inp[o + c] as number) - m;
      v += d * d;
    }
    v /= C;
    const s = 1 / Math.sqrt(v + LAYERNORM_EPS);
    for (let c = 0; c < C; c++) {
      out[o + c] = ((inp[o + c] as number) - m) * s * (weight[c] as number) + (bias[c] as number);
    }
    mean[i] = m;
    rstd[i] = s;
  }
}

/** Accumulates (+=) into dinp, dweight and dbias. */
export function layernormBackward(
  dinp: Floats,
  dweight: Floats,
  dbias: Floats,
  dout: Floats,
  inp: Floats,
  weight: Floats,
  mean: Floats,
  rstd: Floats,
  N: number,
  C: number,
): void {
  for (let i = 0; i < N; i++) {
    const o = i * C;
    const m = mean[i] as number;
    const s = rstd[i] as number;
    // dnorm = dout * weight; dinp = s * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))
    let dnormMean = 0;
    let dnormNormMean = 0;
    for (let c = 0; c < C; c++) {
      const norm = ((inp[o + c] as number) - m) * s;
      const dnorm = (dout[o + c] as number) * (weight[c] as number);
      dnormMean += dnorm;
      dnormNormMean += dnorm * norm;
    }
    dnormMean /= C;
    dnormNormMean /= C;
    for (let c = 0; c < C; c++) {
      const norm = ((inp[o + c] as number) - m) * s;
      const g = dout[o + c] as number;
      const dnorm = g * (weight[c] as number);
      dbias[c] = (dbias[c] as number) + g;
      dweight[c] = (dweight[c] as number) + norm * g;
      dinp[o + c] = (dinp[o + c] as number) + s * (dnorm - dnormMean - norm * dnormNormMean);
    }
  }
}
