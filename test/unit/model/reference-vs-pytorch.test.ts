// The CPU reference model against PyTorch's float64 answers for the same tiny GPT-2: the loss,
// every logit and every parameter's gradient (test/fixtures/gpt2-tiny).
import { describe, expect, it } from 'vitest';
import { CpuGpt } from '../../../kernels/reference/gpt.ts';
import { expectClose } from '../../helpers/compare.ts';
import { loadTinyFixture } from './gpt2-tiny.ts';

describe('CpuGpt (float32) vs PyTorch', () => {
  const fx = loadTinyFixture();
  const model = new CpuGpt(fx.config, fx.params);
  const fwd = model.forward(fx.inputs, fx.targets, fx.B, fx.T);

  it('computes the same loss and logits', () => {
    const rel = Math.abs(fwd.loss - fx.loss) / fx.loss;
    console.log(`loss: ours=${fwd.loss} pytorch=${fx.loss} rel=${rel.toExponential(3)}`);
    expect(rel).toBeLessThan(1e-5);
    expectClose('logits', fwd.logits, fx.logits, 1e-5);
  });

  it('computes the same gradient for every tensor', () => {
    const grads = model.backward(fwd);
    expect(fx.grads.size).toBe(model.layout.tensors.length);
    for (const spec of model.layout.tensors) {
      const want = fx.grads.get(spec.name);
      if (!want) throw new Error(`no PyTorch gradient for ${spec.name}`);
      expect(want.shape).toEqual(spec.shape);
      expectClose(spec.name, model.tensor(grads, spec.name), want.data, 1e-4);
    }
  });
});
