import { describe, expect, it } from 'vitest';
import { GpuError } from '../../../kernels/gpu/errors.ts';
import { crossEntropyForwardBackward } from '../../../kernels/ops/crossentropy.ts';
import { crossEntropyForwardBackward as reference } from '../../../kernels/reference/crossentropy.ts';
import { expectBitIdentical, expectClose, randomFloats } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';

function randomTargets(N: number, V: number, seed: number): Uint32Array {
  return Uint32Array.from(randomFloats(N, seed), (x) => Math.floor(((x + 1) / 2) * V) % V);
}

/** Rows of V logits spread to a stride of Vp, the padding filled with large garbage. */
function pad(logits: Float32Array, V: number, Vp: number): Float32Array {
  const N = logits.length / V;
  const out = randomFloats(N * Vp, 123, 1e4);
  for (let i = 0; i < N; i++) out.set(logits.subarray(i * V, (i + 1) * V), i * Vp);
  return out;
}

function unpad(rows: Float32Array, V: number, Vp: number): Float32Array {
  const N = rows.length / Vp;
  const out = new Float32Array(N * V);
  for (let i = 0; i < N; i++) out.set(rows.subarray(i * Vp, i * Vp + V), i * V);
  return out;
}

async function runGpu(logits: Float32Array, targets: Uint32Array, V: number, Vp = V, backward = true) {
  const ctx = await nodeContext();
  const N = targets.length;
  const rows = ctx.createStorageFrom('ce:logits', Vp === V ? logits : pad(logits, V, Vp));
  const losses = ctx.createStorageFrom('ce:losses', randomFloats(N, 99)); // overwritten
  const targetsBuf = ctx.createStorageFrom('ce:targets', targets);
  const dispatches = crossEntropyForwardBackward(
    ctx,
    { logits: rows, losses, targets: targetsBuf },
    { N, V, Vp },
    { backward },
  );
  ctx.run(dispatches);
  const all = await ctx.readFloats(rows);
  return { losses: await ctx.readFloats(losses), dlogits: unpad(all, V, Vp), all };
}

function cpu(logits: Float32Array, targets: Uint32Array, V: number) {
  const N = targets.length;
  const losses = new Float64Array(N);
  const dlogits = new Float64Array(N * V);
  reference(losses, dlogits, Float64Array.from(logits), targets, N, V, 1 / N);
  return { losses, dlogits };
}

async function check(label: string, logits: Float32Array, targets: Uint32Array, V: number, Vp = V) {
  const got = await runGpu(logits, targets, V, Vp);
  const want = cpu(logits, targets, V);
  expectClose(`${label} losses`, got.losses, want.losses);
  expectClose(`${label} dlogits`, got.dlogits, want.dlogits);
  return got;
}

describe('crossentropy', () => {
  it('matches the CPU reference, N = 37, V = 13 padded to Vp = 16 (padding gets zero gradient)', async () => {
    const got = await check('N=37 V=13 Vp=16', randomFloats(37 * 13, 1, 3), randomTargets(37, 13, 2), 13, 16);
    for (let i = 0; i < 37; i++) expect([...got.all.subarray(i * 16 + 13, i * 16 + 16)]).toEqual([0, 0, 0]);
  });

  it('matches with more padding than the last vec4 (V = 13, Vp = 24)', async () => {
    const got = await check('N=5 V=13 Vp=24', randomFloats(5 * 13, 11, 3), randomTargets(5, 13, 12), 13, 24);
    expect(got.all.subarray(13, 24).every((x) => x === 0)).toBe(true);
  });

  it('refuses a row stride that is not whole vec4s', async () => {
    const ctx = await nodeContext();
    const b = ctx.createStorage('ce:tiny', 64);
    expect(() =>
      crossEntropyForwardBackward(ctx, { logits: b, losses: b, targets: b }, { N: 1, V: 13 }),
    ).toThrow(GpuError);
  });

  it('matches the CPU reference at the model shape, N = 1024, V = 256', async () => {
    await check('N=1024 V=256', randomFloats(1024 * 256, 3, 4), randomTargets(1024, 256, 4), 256);
  });

  it('is stable for large logits (exp would overflow without the max)', async () => {
    const N = 8;
    const V = 16;
    const logits = randomFloats(N * V, 5, 50).map((x, i) => x + (i % 2 ? 1000 : -1000) * ((i >> 4) % 3));
    logits[3] = 3e4; // one dominant logit: softmax is one-hot, its loss 0 or huge
    const targets = randomTargets(N, V, 6);
    targets[0] = 3;
    const got = await check('large logits', logits, targets, V);
    for (const x of [...got.losses, ...got.dlogits]) expect(Number.isFinite(x)).toBe(true);
  });

  it('leaves the logits untouched in forward-only mode', async () => {
    const logits = randomFloats(20 * 12, 7, 3);
    const targets = randomTargets(20, 12, 8);
    const got = await runGpu(logits, targets, 12, 12, false);
    expectBitIdentical('logits', got.all, logits);
    expectClose('forward-only losses', got.losses, cpu(logits, targets, 12).losses);
  });

  it('is deterministic', async () => {
    const logits = randomFloats(100 * 50, 9, 3);
    const targets = randomTargets(100, 50, 10);
    const a = await runGpu(logits, targets, 50, 52);
    const b = await runGpu(logits, targets, 50, 52);
    expectBitIdentical('losses', a.losses, b.losses);
    expectBitIdentical('dlogits', a.all, b.all);
  });
});
