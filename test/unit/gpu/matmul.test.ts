// The matmul kernels against kernels/reference/gemm.ts: every transpose combination, with and
// without bias and accumulate, for both vec4 families (two configurations each) and the scalar
// fallback, on shapes that are not multiples of the tiles (nor, for the fallback, of 4).
import { beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { GpuError } from '../../../kernels/gpu/errors.ts';
import {
  biasBackward,
  classifierBackward,
  classifierForward,
  gemmDispatch,
  linearBackward,
  linearForward,
} from '../../../kernels/ops/matmul.ts';
import {
  defaultTuning,
  GPU_CANDIDATES,
  type MatmulTuning,
  SOFTWARE_CANDIDATES,
  tuningName,
} from '../../../kernels/ops/matmul-tuning.ts';
import { gemm } from '../../../kernels/reference/gemm.ts';
import { matmulBackward, matmulForward } from '../../../kernels/reference/matmul.ts';
import { expectBitIdentical, expectClose, randomFloats } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeContext();
});

const TUNINGS: readonly MatmulTuning[] = [
  { family: 'register', rows: 16, cols: 16, wgX: 4, wgY: 2 },
  { family: 'register', rows: 8, cols: 4, wgX: 2, wgY: 4 },
  { family: 'shared', rows: 4, cols: 4, wgX: 4, wgY: 4, tileK: 8 },
  { family: 'shared', rows: 8, cols: 8, wgX: 2, wgY: 2, tileK: 4 },
];

type Gemm = { M: number; K: number; N: number; transA: boolean; transB: boolean };

/** Runs one GEMM on the GPU and on the CPU; returns both outputs. */
async function compare(s: Gemm, tuning: MatmulTuning, bias: boolean, accumulate: boolean, seed: number) {
  const { M, K, N } = s;
  const a = randomFloats(M * K, seed);
  const b = randomFloats(K * N, seed + 1);
  const c = randomFloats(N, seed + 2);
  const prior = randomFloats(M * N, seed + 3);
  const out = ctx.createStorageFrom('test:out', prior);
  const d = gemmDispatch(
    ctx,
    {
      ...s,
      accumulate,
      out,
      a: ctx.createStorageFrom('test:a', a),
      b: ctx.createStorageFrom('test:b', b),
      bias: bias ? ctx.createStorageFrom('test:bias', c) : null,
    },
    tuning,
  );
  ctx.run([d]);
  const got = await ctx.readFloats(out, 0, M * N);
  const want = Float32Array.from(prior);
  gemm(want, a, b, bias ? c : null, { ...s, accumulate });
  return { got, want, kernel: d.pipeline.label.split('|')[0] };
}

const ORIENTATIONS = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;
const FLAGS = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

describe('gemm, vec4 families', () => {
  // Every operand axis a multiple of 4, none a multiple of any tile; K = 36 leaves a K tail.
  const vec4Shape = { M: 68, K: 36, N: 76 };
  // transA with K % 4 != 0: the register family's masked K tail (K_ALIGNED = false).
  const kTailShape = { M: 44, K: 37, N: 20 };

  for (const tuning of TUNINGS) {
    it(`${tuningName(tuning)}: all transposes, bias and accumulate`, async () => {
      let seed = 1;
      for (const [transA, transB] of ORIENTATIONS) {
        for (const [bias, accumulate] of FLAGS) {
          const s = { ...vec4Shape, transA, transB };
          const { got, want, kernel } = await compare(s, tuning, bias, accumulate, seed++);
          expect(kernel).toBe(tuning.family === 'register' ? 'matmul_forward' : 'matmul_forward_shared');
          expectClose(
            `${tuningName(tuning)} tA=${transA} tB=${transB} bias=${bias} acc=${accumulate}`,
            got,
            want,
          );
        }
      }
      const { got, want, kernel } = await compare(
        { ...kTailShape, transA: true, transB: false },
        tuning,
        true,
        true,
        99,
      );
      expect(kernel).not.toBe('matmul_forward_scalar');
      expectClose(`${tuningName(tuning)} K tail`, got, want);
    });
  }

  it('every autotune candidate, NN with bias and TN with a K tail', async () => {
    for (const tuning of [...SOFTWARE_CANDIDATES, ...GPU_CANDIDATES]) {
      for (const s of [
        { M: 100, K: 68, N: 140, transA: false, transB: false },
        { M: 132, K: 37, N: 72, transA: true, transB: false },
      ]) {
        const { got, want } = await compare(s, tuning, true, false, 11);
        expectClose(`${tuningName(tuning)} ${s.M}x${s.K}x${s.N} tA=${s.transA}`, got, want);
      }
    }
  });

  it('M=37, K=20, N=44 (rows past every tile) in NN and NT', async () => {
    for (const tuning of TUNINGS) {
      for (const transB of [false, true]) {
        const { got, want } = await compare(
          { M: 37, K: 20, N: 44, transA: false, transB },
          tuning,
          true,
          false,
          7,
        );
        expectClose(`${tuningName(tuning)} 37x20x44 tB=${transB}`, got, want);
      }
    }
  });
});

describe('gemm, scalar fallback', () => {
  it('any shape, every transpose, bias and accumulate', async () => {
    let seed = 200;
    for (const shape of [
      { M: 5, K: 3, N: 7 },
      { M: 37, K: 20, N: 45 },
      { M: 37, K: 21, N: 44 },
    ]) {
      for (const [transA, transB] of ORIENTATIONS) {
        for (const [bias, accumulate] of FLAGS) {
          const s = { ...shape, transA, transB };
          const { got, want, kernel } = await compare(
            s,
            defaultTuning(ctx.adapter),
            bias,
            accumulate,
            seed++,
          );
          expect(kernel).toBe('matmul_forward_scalar');
          const name = `scalar ${shape.M}x${shape.K}x${shape.N} tA=${transA} tB=${transB} bias=${bias} acc=${accumulate}`;
          expectClose(name, got, want);
        }
      }
    }
  });
});

describe('gemm, model-sized', () => {
  it('M=1024, K=128, N=384 with bias, default tuning', async () => {
    const s = { M: 1024, K: 128, N: 384, transA: false, transB: false };
    const { got, want } = await compare(s, defaultTuning(ctx.adapter), true, false, 300);
    expectClose('1024x128x384 +bias', got, want);
  });
});

describe('determinism', () => {
  it('two runs of each family and of bias backward are bit-identical', async () => {
    const [M, K, N] = [64, 128, 96];
    const a = ctx.createStorageFrom('det:a', randomFloats(M * K, 1));
    const b = ctx.createStorageFrom('det:b', randomFloats(K * N, 2));
    for (const tuning of [...TUNINGS, defaultTuning(ctx.adapter)]) {
      const outs = [0, 1].map((i) => ctx.createStorage(`det:out${i}`, M * N * 4));
      ctx.run(outs.map((out) => gemmDispatch(ctx, { M, N, K, transA: true, out, a, b }, tuning)));
      const [x, y] = await Promise.all(outs.map((o) => ctx.readFloats(o)));
      expectBitIdentical(tuningName(tuning), x as Float32Array, y as Float32Array);
    }
    for (const tuning of [
      { wgX: 64, wgY: 1 },
      { wgX: 8, wgY: 8 },
    ]) {
      const sums = [0, 1].map((i) => ctx.createStorage(`det:dbias${i}`, N * 4));
      ctx.run(sums.map((dbias) => biasBackward(ctx, { dbias, dout: b, M: K, N }, tuning)));
      const [x, y] = await Promise.all(sums.map((o) => ctx.readFloats(o)));
      expectBitIdentical(`bias backward wg${tuning.wgX}x${tuning.wgY}`, x as Float32Array, y as Float32Array);
    }
  });
});

describe('matmul_backward_bias', () => {
  it('column sums, with and without accumulate, tree and no tree', async () => {
    for (const [M, N] of [
      [37, 44],
      [1024, 384],
      [3, 5],
    ] as const) {
      for (const tuning of [
        { wgX: 64, wgY: 1 },
        { wgX: 16, wgY: 8 },
        { wgX: 4, wgY: 32 },
      ]) {
        for (const accumulate of [false, true]) {
          const dout = randomFloats(M * N, M + N);
          const prior = randomFloats(N, 5);
          const dbias = ctx.createStorageFrom('bias:dbias', prior);
          ctx.run([
            biasBackward(
              ctx,
              { dbias, dout: ctx.createStorageFrom('bias:dout', dout), M, N, accumulate },
              tuning,
            ),
          ]);
          const want = Float64Array.from({ length: N }, (_, n) => {
            let s = accumulate ? (prior[n] as number) : 0;
            for (let m = 0; m < M; m++) s += dout[m * N + n] as number;
            return s;
          });
          const name = `dbias ${M}x${N} wg${tuning.wgX}x${tuning.wgY} acc=${accumulate}`;
          expectClose(name, await ctx.readFloats(dbias, 0, N), want);
        }
      }
    }
  });
});

describe('linear layer and tied classifier', () => {
  it('linearForward and linearBackward match kernels/reference/matmul.ts', async () => {
    const [M, K, N] = [40, 32, 48];
    const inp = randomFloats(M * K, 1);
    const weight = randomFloats(K * N, 2);
    const bias = randomFloats(N, 3);
    const dout = randomFloats(M * N, 4);
    // The reference accumulates into all three gradients: start them non-zero and accumulate.
    const grads = {
      dinp: randomFloats(M * K, 5),
      dweight: randomFloats(K * N, 6),
      dbias: randomFloats(N, 7),
    };
    const g = Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, ctx.createStorageFrom(k, v)]));
    const buffers = {
      out: ctx.createStorage('out', M * N * 4),
      inp: ctx.createStorageFrom('inp', inp),
      weight: ctx.createStorageFrom('weight', weight),
      bias: ctx.createStorageFrom('bias', bias),
      dout: ctx.createStorageFrom('dout', dout),
    };
    const tuning = defaultTuning(ctx.adapter);
    ctx.run([
      ...linearForward(ctx, { ...buffers, M, K, N }, tuning),
      ...linearBackward(
        ctx,
        {
          ...buffers,
          dinp: g.dinp as GPUBuffer,
          dweight: g.dweight as GPUBuffer,
          dbias: g.dbias as GPUBuffer,
          M,
          K,
          N,
          accumulateDinp: true,
          accumulateDweight: true,
          accumulateDbias: true,
        },
        tuning,
      ),
    ]);
    const out = new Float32Array(M * N);
    matmulForward(out, inp, weight, bias, M, K, N);
    matmulBackward(grads.dinp, grads.dweight, grads.dbias, dout, inp, weight, M, K, N);
    expectClose('linear out', await ctx.readFloats(buffers.out), out);
    for (const [name, want] of Object.entries(grads)) {
      expectClose(`linear ${name}`, await ctx.readFloats(g[name] as GPUBuffer), want);
    }
  });

  it('classifierForward and classifierBackward (logits = x @ wte^T)', async () => {
    const [M, C, V] = [37, 32, 64];
    const x = randomFloats(M * C, 1);
    const wte = randomFloats(V * C, 2);
    const dlogits = randomFloats(M * V, 3);
    const t = {
      logits: ctx.createStorage('logits', M * V * 4),
      dx: ctx.createStorage('dx', M * C * 4),
      dwte: ctx.createStorage('dwte', V * C * 4),
      x: ctx.createStorageFrom('x', x),
      wte: ctx.createStorageFrom('wte', wte),
      dlogits: ctx.createStorageFrom('dlogits', dlogits),
    };
    const tuning = defaultTuning(ctx.adapter);
    ctx.run([
      classifierForward(ctx, { ...t, M, C, V }, tuning),
      ...classifierBackward(ctx, { ...t, M, C, V }, tuning),
    ]);
    const logits = new Float32Array(M * V);
    gemm(logits, x, wte, null, { M, N: V, K: C, transB: true });
    const dx = new Float32Array(M * C);
    gemm(dx, dlogits, wte, null, { M, N: C, K: V });
    const dwte = new Float32Array(V * C);
    gemm(dwte, dlogits, x, null, { M: V, N: C, K: M, transA: true });
    expectClose('logits', await ctx.readFloats(t.logits), logits);
    expectClose('dx', await ctx.readFloats(t.dx), dx);
    expectClose('dwte', await ctx.readFloats(t.dwte), dwte);
  });
});

describe('shape errors', () => {
  it('refuses undersized buffers and impossible tunings with ERR_SHAPE', () => {
    const small = ctx.createStorage('small', 16);
    const tuning = defaultTuning(ctx.adapter);
    const args = { M: 8, N: 8, K: 8, out: small, a: small, b: small };
    expect(() => gemmDispatch(ctx, args, tuning)).toThrow(GpuError);
    const big = ctx.createStorage('big', 256);
    const ok = { M: 8, N: 8, K: 8, out: big, a: ctx.createStorage('a', 256), b: ctx.createStorage('b', 256) };
    expect(() => gemmDispatch(ctx, ok, { ...tuning, rows: 6 })).toThrow(/ERR_SHAPE/);
    expect(() => gemmDispatch(ctx, ok, { family: 'shared', rows: 16, cols: 4, wgX: 4, wgY: 4 })).toThrow(
      /ERR_SHAPE/,
    );
    expect(() => biasBackward(ctx, { dbias: big, dout: big, M: 2, N: 8 }, { wgX: 8, wgY: 3 })).toThrow(
      /ERR_SHAPE/,
    );
  });
});
