// The outer Nesterov step matches PyTorch's SGD(nesterov=True) and is pure fp32 arithmetic.
import { expect, it } from 'vitest';
import { NesterovOuter } from '../../../protocol/outer-optimizer.ts';
import { createRng } from '../../../protocol/rng.ts';

it('follows torch.optim.SGD with Nesterov momentum over several steps', () => {
  const n = 256;
  const lr = 0.7;
  const mu = 0.9;
  const rng = createRng(5);
  const weights = Float32Array.from({ length: n }, () => rng.nextNormal());
  const reference = Float64Array.from(weights);
  const momentum = new Float64Array(n);
  const outer = new NesterovOuter(n, lr, mu);
  for (let step = 0; step < 10; step++) {
    const g = Float32Array.from({ length: n }, () => rng.nextNormal() * 0.01);
    outer.step(weights, g);
    for (let i = 0; i < n; i++) {
      momentum[i] = mu * (momentum[i] as number) + (g[i] as number);
      reference[i] = (reference[i] as number) - lr * ((g[i] as number) + mu * (momentum[i] as number));
    }
  }
  for (let i = 0; i < n; i++) expect(weights[i]).toBeCloseTo(reference[i] as number, 5);
});

it('with lr 1 and no momentum lands on θ − g', () => {
  const outer = new NesterovOuter(3, 1, 0);
  const weights = Float32Array.of(1, 2, 3);
  outer.step(weights, Float32Array.of(0.5, -1, 3));
  expect(Array.from(weights)).toEqual([0.5, 3, 0]);
});

it('refuses mismatched lengths', () => {
  expect(() => new NesterovOuter(3, 1, 0).step(new Float32Array(3), new Float32Array(2))).toThrow(RangeError);
});
