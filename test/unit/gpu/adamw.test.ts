import { describe, expect, it } from 'vitest';
import { AdamW, type AdamWHyperparameters } from '../../../kernels/ops/adamw.ts';
import { GlobalNorm } from '../../../kernels/ops/gradnorm.ts';
import { adamwStep } from '../../../kernels/reference/adamw.ts';
import { clipScale, globalNorm } from '../../../kernels/reference/gradnorm.ts';
import { expectBitIdentical, expectClose, randomFloats } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';

const HYPER: Omit<AdamWHyperparameters, 'step' | 'maxNorm'> = {
  lr: 1e-2,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.1,
};

/** `steps` AdamW steps on the GPU (global norm first) and on the CPU, in f64. */
async function run(n: number, decayEnd: number, maxNorm: number, steps: number, gradScale = 1) {
  const ctx = await nodeContext();
  const params0 = randomFloats(n, 1);
  const gradSteps = Array.from({ length: steps }, (_, s) => randomFloats(n, 10 + s, gradScale));
  const params = ctx.createStorageFrom('adamw:params', params0);
  const grads = ctx.createStorage('adamw:grads', n * 4);
  const m = ctx.createStorage('adamw:m', n * 4);
  const v = ctx.createStorage('adamw:v', n * 4);
  const norm = new GlobalNorm(ctx, grads, n);
  const adamw = new AdamW(ctx, { params, grads, m, v, norm: norm.result }, { n, decayEnd });

  const ref = { params: Float64Array.from(params0), m: new Float64Array(n), v: new Float64Array(n) };
  for (let s = 0; s < steps; s++) {
    const g = gradSteps[s] as Float32Array;
    ctx.write(grads, g);
    adamw.update({ ...HYPER, step: s + 1, maxNorm });
    ctx.run([...norm.dispatches, ...adamw.dispatches]);

    const g64 = Float64Array.from(g);
    const scale = maxNorm > 0 ? clipScale(globalNorm(g64), maxNorm) : 1;
    adamwStep(ref.params, g64, ref.m, ref.v, n, { ...HYPER, step: s + 1, decayEnd, gradScale: scale });
  }
  const got = {
    params: await ctx.readFloats(params),
    m: await ctx.readFloats(m),
    v: await ctx.readFloats(v),
  };
  return { got, want: ref, params0, gradNorm: await norm.read() };
}

describe('adamw', () => {
  it('matches the CPU reference over 3 steps without clipping (n not a multiple of the workgroup)', async () => {
    const { got, want } = await run(4 * 301, 514, 0, 3);
    for (const key of ['params', 'm', 'v'] as const) expectClose(`no clip ${key}`, got[key], want[key]);
  });

  it('matches the CPU reference over 3 steps with clipping on', async () => {
    // Gradients of norm ~ 20 against maxNorm 1: every step is clipped.
    const { got, want, gradNorm } = await run(4 * 301, 512, 1, 3);
    expect(gradNorm).toBeGreaterThan(1);
    for (const key of ['params', 'm', 'v'] as const) expectClose(`clip ${key}`, got[key], want[key]);
  });

  it('does not clip when the norm is below maxNorm', async () => {
    const { got, want, gradNorm } = await run(4 * 64, 128, 100, 2, 0.01);
    expect(gradNorm).toBeLessThan(100);
    for (const key of ['params', 'm', 'v'] as const) expectClose(`under maxNorm ${key}`, got[key], want[key]);
  });

  it('decays only [0, decayEnd): zero gradients leave the rest unchanged', async () => {
    const ctx = await nodeContext();
    const n = 256;
    const params0 = randomFloats(n, 3);
    const params = ctx.createStorageFrom('adamw:params', params0);
    const zeros = () => ctx.createStorage('adamw:zeros', n * 4);
    const adamw = new AdamW(ctx, { params, grads: zeros(), m: zeros(), v: zeros() }, { n, decayEnd: 64 });
    adamw.update({ ...HYPER, step: 1, maxNorm: 0 });
    ctx.run(adamw.dispatches);
    const got = await ctx.readFloats(params);
    expectClose(
      'decayed',
      got.subarray(0, 64),
      params0.subarray(0, 64).map((p) => p * (1 - HYPER.lr * 0.1)),
    );
    expectBitIdentical('not decayed', got.subarray(64), params0.subarray(64));
    expect(() => adamw.update({ ...HYPER, step: 2, maxNorm: 1 })).toThrow(RangeError);
    expect(() => adamw.update({ ...HYPER, step: 0, maxNorm: 0 })).toThrow(RangeError);
  });

  it('changes nothing when run before the first update()', async () => {
    const ctx = await nodeContext();
    const n = 64;
    const params0 = randomFloats(n, 6);
    const params = ctx.createStorageFrom('adamw:params', params0);
    const grads = ctx.createStorageFrom('adamw:grads', randomFloats(n, 7));
    const m = ctx.createStorage('adamw:m', n * 4);
    const adamw = new AdamW(
      ctx,
      { params, grads, m, v: ctx.createStorage('adamw:v', n * 4) },
      { n, decayEnd: n },
    );
    ctx.run(adamw.dispatches);
    expectBitIdentical('params', await ctx.readFloats(params), params0);
    expectBitIdentical('m', await ctx.readFloats(m), new Float32Array(n));
  });

  it('is deterministic', async () => {
    const a = await run(4 * 500, 1000, 1, 2);
    const b = await run(4 * 500, 1000, 1, 2);
    for (const key of ['params', 'm', 'v'] as const) expectBitIdentical(key, a.got[key], b.got[key]);
  });
});
