// CPU reference for causal multi-head self-attention. qkv (B, T, 3C) holds each token's
// query, key and value side by side ([q | k | v], as GPT-2's c_attn produces them); head h
// uses columns [h*hs, (h+1)*hs) of each. out (B, T, C) concatenates the heads.
// `lse` (B, NH, T) keeps each query's log-sum-exp of its scaled scores: the backward pass
// rebuilds the softmax from it instead of storing a T x T matrix (as flash attention does).

import type { Floats } from './floats.ts';

export function attentionForward(
  out: Floats,
  lse: Floats,
  qkv: Floats,
  B: number,
  T: number,
  C: number,
  NH: number,
): void {
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  const C3 = 3 * C;
  const scores = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * C3 + h * hs;
        let max = -Infinity;
        for (let j = 0; j <= t; j++) {
          const k = (b * T + j) * C3 + C + h * hs;
          let dot = 0;
          for (let i = 0; i < hs; i++) dot += (qkv[q + i] as number) * (qkv[k + i] as number);
          scores[j] = dot * scale;
          max = Math.max(max, dot * scale);
        }
        let sum = 0;
        for (let j = 0; j <= t; j++) sum += Math.exp((scores[j] as number) - max);
        const logSumExp = max + Math.log(sum);
        lse[(b * NH + h) * T + t] = logSumExp;
        const o = (b * T + t) * C + h * hs;
        for (let i = 0; i < hs; i++) {
          let acc = 0;
          for (let j = 0; j <= t; j++) {
            const v = (b * T + j) * C3 + 2 * C + h * hs;
            acc += Math.exp((scores[j] as number) - logSumExp) * (qkv[v + i] as number);
          }
          out[o + i] = acc;
        }
      }
    }
  }
}

/** Accumulates (+=) into dqkv. `out` and `lse` are what attentionForward produced. */
export function attentionBackward(
  dqkv: Floats,
  dout: Floats,
  qkv: Floats,
  out: Floats,
  lse: Floats,
  B: number,
  T: number,
  C: number,
  NH: number,
): void {
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  const C3 = 3 * C;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * C3 + h * hs;
        const o = (b * T + t) * C + h * hs;
        // D = dout . out = sum_j p_j (dout . v_j): the softmax's backward needs it per row.
        let D = 0;
        for (let i = 0; i < hs; i++) D += (dout[o + i] as number) * (out[o + i] as number);
        const logSumExp = lse[(b * NH + h) * T + t] as number;
        for (let j = 0; j <= t; j++) {
          const k = (b * T + j) * C3 + C + h * hs;
          const v = k + C;
          let dot = 0;
          let dp = 0;
          for (let i = 0; i < hs; i++) {
            dot += (qkv[q + i] as number) * (qkv[k + i] as number);
            dp += (dout[o + i] as number) * (qkv[v + i] as number);
          }
          const p = Math.exp(dot * scale - logSumExp);
          const ds = p * (dp - D) * scale;
          for (let i = 0; i < hs; i++) {
            dqkv[v + i] = (dqkv[v + i] as number) + p * (dout[o + i] as number);
            dqkv[q + i] = (dqkv[q + i] as number) + ds * (qkv[k + i] as number);
            dqkv[k + i] = (dqkv[k + i] as number) + ds * (qkv[q + i] as number);
          }
        }
      }
    }
  }
}
