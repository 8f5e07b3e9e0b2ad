import { describe, expect, it } from 'vitest';
import { geluBackward, geluForward } from '../../../kernels/ops/gelu.ts';
import { geluBackward as refBackward, geluForward as refForward } from '../../../kernels/reference/gelu.ts';
import { expectBitIdentical, expectClose, randomFloats } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';

async function runGelu(inp: Float32Array, dout: Float32Array) {
  const ctx = await nodeContext();
  const n = inp.length;
  const out = ctx.createStorage('gelu:out', n * 4);
  const dinp = ctx.createStorageFrom('gelu:dinp', randomFloats(n, 9)); // overwritten, not added to
  const inpBuf = ctx.createStorageFrom('gelu:inp', inp);
  const doutBuf = ctx.createStorageFrom('gelu:dout', dout);
  ctx.run([
    ...geluForward(ctx, { out, inp: inpBuf }, n),
    ...geluBackward(ctx, { dinp, inp: inpBuf, dout: doutBuf }, n),
  ]);
  return { out: await ctx.readFloats(out), dinp: await ctx.readFloats(dinp) };
}

function reference(inp: Float32Array, dout: Float32Array) {
  const n = inp.length;
  const out = new Float64Array(n);
  const dinp = new Float64Array(n);
  refForward(out, Float64Array.from(inp), n);
  refBackward(dinp, Float64Array.from(inp), Float64Array.from(dout), n);
  return { out, dinp };
}

describe('gelu', () => {
  it('matches the CPU reference (n = 1004, not a multiple of the workgroup)', async () => {
    const n = 1004;
    const inp = randomFloats(n, 1, 4);
    const dout = randomFloats(n, 2);
    const got = await runGelu(inp, dout);
    const want = reference(inp, dout);
    expectClose('gelu forward', got.out, want.out);
    expectClose('gelu backward', got.dinp, want.dinp);
  });

  it('stays finite for huge arguments (tanh clamp)', async () => {
    const inp = Float32Array.from([-1e30, -1e4, -100, -50, -12, -9.5, 9.5, 12, 50, 100, 1e4, 1e30]);
    const dout = new Float32Array(inp.length).fill(1);
    const got = await runGelu(inp, dout);
    for (const x of [...got.out, ...got.dinp]) expect(Number.isFinite(x)).toBe(true);
    const want = reference(inp, dout);
    // Per element: out is 0 or x exactly in this range, the slope 0 or 1.
    for (let i = 0; i < inp.length; i++) {
      expect(got.out[i]).toBeCloseTo(want.out[i] as number, 3);
      expect(got.dinp[i]).toBeCloseTo(want.dinp[i] as number, 5);
    }
  });

  it('is deterministic', async () => {
    const inp = randomFloats(512, 3, 3);
    const dout = randomFloats(512, 4);
    const a = await runGelu(inp, dout);
    const b = await runGelu(inp, dout);
    expectBitIdentical('gelu forward', a.out, b.out);
    expectBitIdentical('gelu backward', a.dinp, b.dinp);
  });
});
