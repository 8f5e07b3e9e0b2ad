// Fused causal attention (kernels/ops/attention.ts) against the CPU reference: forward out
// and lse, backward dqkv, at several shapes and tunings (T not a multiple of any block, head
// sizes 8 to 64), with realistic scores and large ones that stress the online softmax, plus
// determinism and shape errors.
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import type { AttentionTuning } from '../../../kernels/ops/attention.ts';
import { attentionBackward, attentionForward } from '../../../kernels/ops/attention.ts';
import * as ref from '../../../kernels/reference/attention.ts';
import { expectBitIdentical, expectClose, randomFloats } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';

interface Shape {
  B: number;
  T: number;
  C: number;
  NH: number;
}

/** Roughly N(0, scale^2) floats (Box-Muller over the helpers' uniform generator). */
function gaussian(n: number, seed: number, scale = 1): Float32Array {
  const u = randomFloats(2 * n, seed);
  return Float32Array.from({ length: n }, (_, i) => {
    const a = ((u[2 * i] as number) + 1) / 2 || 1e-12;
    const b = ((u[2 * i + 1] as number) + 1) / 2;
    return scale * Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * b);
  });
}

interface Case {
  shape: Shape;
  qkv: Float32Array;
  dout: Float32Array;
  out: Float32Array; // reference forward, rounded to f32: the backward's input
  lse: Float32Array;
  dqkv: Float64Array; // reference backward
}

function referenceCase(shape: Shape, seed: number, scale: number): Case {
  const { B, T, C, NH } = shape;
  const qkv = gaussian(B * T * 3 * C, seed, scale);
  const dout = gaussian(B * T * C, seed + 1);
  const out64 = new Float64Array(B * T * C);
  const lse64 = new Float64Array(B * NH * T);
  ref.attentionForward(out64, lse64, Float64Array.from(qkv), B, T, C, NH);
  const out = Float32Array.from(out64);
  const lse = Float32Array.from(lse64);
  const dqkv = new Float64Array(B * T * 3 * C);
  ref.attentionBackward(dqkv, Float64Array.from(dout), Float64Array.from(qkv), out, lse, B, T, C, NH);
  return { shape, qkv, dout, out, lse, dqkv };
}

async function gpuForward(ctx: GpuContext, c: Case, tuning?: Partial<AttentionTuning>) {
  const { B, T, C, NH } = c.shape;
  const out = ctx.createStorage('test.out', B * T * C * 4);
  const lse = ctx.createStorage('test.lse', B * NH * T * 4);
  const qkv = ctx.createStorageFrom('test.qkv', c.qkv);
  ctx.run(attentionForward(ctx, { out, lse, qkv, ...c.shape, label: 'test.attn' }, tuning));
  return { out: await ctx.readFloats(out), lse: await ctx.readFloats(lse) };
}

async function gpuBackward(ctx: GpuContext, c: Case, tuning?: Partial<AttentionTuning>) {
  const { B, T, C } = c.shape;
  // Garbage in dqkv: the kernels must overwrite every element, not accumulate.
  const dqkv = ctx.createStorageFrom('test.dqkv', new Float32Array(B * T * 3 * C).fill(Number.NaN));
  const args = {
    dqkv,
    dout: ctx.createStorageFrom('test.dout', c.dout),
    qkv: ctx.createStorageFrom('test.qkv', c.qkv),
    out: ctx.createStorageFrom('test.out', c.out),
    lse: ctx.createStorageFrom('test.lse', c.lse),
    ...c.shape,
    label: 'test.attn',
  };
  ctx.run(attentionBackward(ctx, args, tuning));
  return ctx.readFloats(dqkv);
}

async function check(name: string, c: Case, tuning?: Partial<AttentionTuning>) {
  const ctx = await nodeContext();
  const fwd = await gpuForward(ctx, c, tuning);
  expectClose(`${name} out`, fwd.out, c.out);
  expectClose(`${name} lse`, fwd.lse, c.lse);
  expectClose(`${name} dqkv`, await gpuBackward(ctx, c, tuning), c.dqkv);
}

const SHAPES: Array<[string, Shape]> = [
  ['B=1 T=5 C=16 NH=2 (hs 8)', { B: 1, T: 5, C: 16, NH: 2 }],
  ['B=2 T=37 C=32 NH=4 (hs 8)', { B: 2, T: 37, C: 32, NH: 4 }],
  ['B=1 T=9 C=24 NH=2 (hs 12: a part-filled chunk)', { B: 1, T: 9, C: 24, NH: 2 }],
  ['B=2 T=45 C=48 NH=3 (hs 16)', { B: 2, T: 45, C: 48, NH: 3 }],
  ['B=1 T=17 C=40 NH=2 (hs 20)', { B: 1, T: 17, C: 40, NH: 2 }],
  ['B=2 T=64 C=128 NH=4 (hs 32, default model)', { B: 2, T: 64, C: 128, NH: 4 }],
  ['B=1 T=70 C=128 NH=2 (hs 64)', { B: 1, T: 70, C: 128, NH: 2 }],
];

describe('attention (fused, causal) vs CPU reference', () => {
  for (const [name, shape] of SHAPES) {
    it(`${name}, qkv ~ N(0, 1)`, async () => {
      await check(name, referenceCase(shape, 7, 1));
    });
  }

  it('large scores (qkv ~ N(0, 16)) exercise the online softmax rescaling', async () => {
    await check('scale 4 hs 32', referenceCase({ B: 2, T: 64, C: 128, NH: 4 }, 11, 4));
    await check('scale 4 hs 8', referenceCase({ B: 1, T: 37, C: 16, NH: 2 }, 12, 4));
  });

  it('every tuning knob, with blocks that do not divide T', async () => {
    const c = referenceCase({ B: 2, T: 37, C: 64, NH: 2 }, 5, 2);
    const tunings: Array<Partial<AttentionTuning>> = [
      { workgroupSize: 8, forwardRows: 3, dqRows: 3, dkvRows: 3 },
      { workgroupSize: 16, forwardRows: 1, dqRows: 1, dkvRows: 2 },
      { workgroupSize: 32, forwardRows: 2, dqRows: 2, dkvRows: 1 },
    ];
    for (const tuning of tunings) await check(`tuning ${JSON.stringify(tuning)}`, c, tuning);
  });

  it('a 2-D grid when the workgroup count exceeds 65535', async () => {
    const c = referenceCase({ B: 1400, T: 3, C: 64, NH: 16 }, 3, 1);
    await check('B=1400 NH=16 wg=1', c, { workgroupSize: 1, forwardRows: 1, dqRows: 1, dkvRows: 1 });
  });

  it('is deterministic: two runs are bit-identical', async () => {
    const ctx = await nodeContext();
    const c = referenceCase({ B: 2, T: 37, C: 32, NH: 4 }, 9, 1);
    const a = await gpuForward(ctx, c);
    const b = await gpuForward(ctx, c);
    expectBitIdentical('out', a.out, b.out);
    expectBitIdentical('lse', a.lse, b.lse);
    expectBitIdentical('dqkv', await gpuBackward(ctx, c), await gpuBackward(ctx, c));
  });

  it('refuses shapes, tunings and bindings it cannot take', async () => {
    const ctx = await nodeContext();
    const buffer = () => ctx.createStorage('test.small', 4096);
    const args = { out: buffer(), lse: buffer(), qkv: buffer(), B: 1, T: 4, C: 32, NH: 4 };
    expect(attentionForward(ctx, args)).toHaveLength(1);
    expect(() => attentionForward(ctx, { ...args, C: 24 })).toThrow(/ERR_SHAPE.*multiple of 4/); // hs 6
    expect(() => attentionForward(ctx, { ...args, C: 512 })).toThrow(/ERR_SHAPE.*at most 64/); // hs 128
    expect(() => attentionForward(ctx, args, { forwardRows: 5 })).toThrow(/ERR_SHAPE.*forwardRows/);
    expect(() => attentionForward(ctx, { ...args, C: 256 })).toThrow(/ERR_SHAPE.*qkv holds 4096 bytes/);
    expect(() => attentionForward(ctx, { ...args, out: args.qkv })).toThrow(/ERR_SHAPE.*shares a GPUBuffer/);
  });
});
