import { describe, expect, it } from 'vitest';
import { sliceFloats } from '../../../kernels/gpu/slice.ts';
import { layernormBackward, layernormForward } from '../../../kernels/ops/layernorm.ts';
import {
  layernormBackward as refBackward,
  layernormForward as refForward,
} from '../../../kernels/reference/layernorm.ts';
import { expectBitIdentical, expectClose, randomFloats } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';

interface Inputs {
  N: number;
  C: number;
  inp: Float32Array;
  weight: Float32Array;
  bias: Float32Array;
  dout: Float32Array;
  dinp0: Float32Array;
}

function inputs(N: number, C: number, seed: number, offset = 0): Inputs {
  const inp = randomFloats(N * C, seed, 2).map((x) => x + offset);
  return {
    N,
    C,
    inp,
    weight: randomFloats(C, seed + 1).map((x) => 1 + 0.5 * x),
    bias: randomFloats(C, seed + 2, 0.5),
    dout: randomFloats(N * C, seed + 3),
    dinp0: randomFloats(N * C, seed + 4), // the backward adds into this
  };
}

async function runGpu(x: Inputs, rowsPerChunk?: number) {
  const ctx = await nodeContext();
  const { N, C } = x;
  const out = ctx.createStorage('ln:out', N * C * 4);
  const mean = ctx.createStorage('ln:mean', N * 4);
  const rstd = ctx.createStorage('ln:rstd', N * 4);
  const inp = ctx.createStorageFrom('ln:inp', x.inp);
  const weight = ctx.createStorageFrom('ln:weight', x.weight);
  const bias = ctx.createStorageFrom('ln:bias', x.bias);
  const dout = ctx.createStorageFrom('ln:dout', x.dout);
  const dinp = ctx.createStorageFrom('ln:dinp', x.dinp0);
  // dweight and dbias as two 64-float-aligned slices of one garbage-filled buffer, as in the
  // flat gradient buffer: the kernel must overwrite them.
  const stride = Math.ceil(C / 64) * 64;
  const grads = ctx.createStorageFrom('ln:grads', randomFloats(2 * stride, 77, 100));
  const dweight = sliceFloats(grads, 0, C);
  const dbias = sliceFloats(grads, stride, C);
  ctx.run([
    ...layernormForward(ctx, { out, mean, rstd, inp, weight, bias }, { N, C }),
    ...layernormBackward(
      ctx,
      { dinp, dweight, dbias, dout, inp, weight, mean, rstd },
      { N, C },
      'ln',
      rowsPerChunk,
    ),
  ]);
  const g = await ctx.readFloats(grads);
  return {
    out: await ctx.readFloats(out),
    mean: await ctx.readFloats(mean),
    rstd: await ctx.readFloats(rstd),
    dinp: await ctx.readFloats(dinp),
    dweight: g.slice(0, C),
    dbias: g.slice(stride, stride + C),
  };
}

function reference(x: Inputs) {
  const { N, C } = x;
  const f64 = (a: Float32Array) => Float64Array.from(a);
  const out = new Float64Array(N * C);
  const mean = new Float64Array(N);
  const rstd = new Float64Array(N);
  refForward(out, mean, rstd, f64(x.inp), f64(x.weight), f64(x.bias), N, C);
  const dinp = f64(x.dinp0);
  const dweight = new Float64Array(C);
  const dbias = new Float64Array(C);
  refBackward(dinp, dweight, dbias, f64(x.dout), f64(x.inp), f64(x.weight), mean, rstd, N, C);
  return { out, mean, rstd, dinp, dweight, dbias };
}

function compare(label: string, got: Awaited<ReturnType<typeof runGpu>>, want: ReturnType<typeof reference>) {
  for (const key of ['out', 'mean', 'rstd', 'dinp', 'dweight', 'dbias'] as const) {
    expectClose(`${label} ${key}`, got[key], want[key]);
  }
}

describe('layernorm', () => {
  it('matches the CPU reference, N = 37, C = 20 (odd shapes, several chunks)', async () => {
    const x = inputs(37, 20, 1);
    compare('N=37 C=20', await runGpu(x, 8), reference(x));
  });

  it('matches the CPU reference at the model shape, N = 1024, C = 128', async () => {
    const x = inputs(1024, 128, 2);
    compare('N=1024 C=128', await runGpu(x), reference(x));
  });

  it('keeps the variance accurate when |mean| >> std (two-pass variance)', async () => {
    // E[x^2] - E[x]^2 loses every digit here in f32; deviations from the mean do not.
    const x = inputs(16, 64, 3, 1000);
    const got = await runGpu(x);
    const want = reference(x);
    expectClose('offset 1000 out', got.out, want.out, 1e-3);
    expectClose('offset 1000 rstd', got.rstd, want.rstd, 1e-3);
  });

  it('is deterministic', async () => {
    const x = inputs(300, 64, 4);
    const a = await runGpu(x);
    const b = await runGpu(x);
    for (const key of ['out', 'dinp', 'dweight', 'dbias'] as const) expectBitIdentical(key, a[key], b[key]);
    expect(a.dweight.length).toBe(64);
  });
});
