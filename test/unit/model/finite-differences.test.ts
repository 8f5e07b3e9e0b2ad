// CpuGpt's backward against central differences of its own forward, in float64, on a tiny
// random model: a check of the reference that needs no outside answers. Weights are large
// (std 0.5) and biases and LayerNorm parameters randomised, so no gradient is trivially zero.
import { describe, expect, it } from 'vitest';
import { CpuGpt } from '../../../kernels/reference/gpt.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { createRng } from '../../../protocol/rng.ts';

const CONFIG: GptConfig = { vocabSize: 16, contextLength: 5, dModel: 8, nLayer: 2, nHead: 2 };
const B = 2;
const T = 5;
const EPS = 1e-5;
const SAMPLES_PER_TENSOR = 6;
const TOLERANCE = 1e-6;

describe('CpuGpt backward (float64) vs finite differences', () => {
  it('agrees for a sample of every tensor', () => {
    const rng = createRng(1234);
    const params = Float64Array.from(initParams(CONFIG, rng, { std: 0.5 }));
    const model = new CpuGpt(CONFIG, params);
    for (const spec of model.layout.tensors) {
      if (spec.decay) continue;
      const t = model.tensor(params, spec.name);
      for (let i = 0; i < t.length; i++) t[i] = (t[i] ?? 0) + 0.3 * rng.nextNormal();
    }
    const inputs = Array.from({ length: B * T }, () => rng.nextBelow(CONFIG.vocabSize));
    const targets = Array.from({ length: B * T }, () => rng.nextBelow(CONFIG.vocabSize));
    const loss = () => model.forward(inputs, targets, B, T).loss;
    const grads = model.backward(model.forward(inputs, targets, B, T));

    let worst = 0;
    for (const spec of model.layout.tensors) {
      let tensorWorst = 0;
      let largest = 0;
      for (let s = 0; s < SAMPLES_PER_TENSOR; s++) {
        const at = spec.offset + rng.nextBelow(spec.size);
        const saved = params[at] ?? 0;
        params[at] = saved + EPS;
        const up = loss();
        params[at] = saved - EPS;
        const down = loss();
        params[at] = saved;
        const numeric = (up - down) / (2 * EPS);
        const analytic = grads[at] ?? Number.NaN;
        const rel = Math.abs(numeric - analytic) / Math.max(Math.abs(numeric), Math.abs(analytic), 1e-8);
        tensorWorst = Math.max(tensorWorst, rel);
        largest = Math.max(largest, Math.abs(analytic));
      }
      console.log(
        `${spec.name}: worst relative difference ${tensorWorst.toExponential(3)}, largest |grad| ${largest.toExponential(3)}`,
      );
      // Agreement between two zeros would prove nothing.
      expect(largest, spec.name).toBeGreaterThan(1e-4);
      worst = Math.max(worst, tensorWorst);
    }
    expect(worst).toBeLessThan(TOLERANCE);
  });
});
