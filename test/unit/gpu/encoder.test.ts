import { describe, expect, it } from 'vitest';
import { sliceFloats } from '../../../kernels/gpu/slice.ts';
import {
  bucketTokens,
  EncoderInputs,
  encoderBackward,
  encoderForward,
} from '../../../kernels/ops/encoder.ts';
import {
  encoderBackward as refBackward,
  encoderForward as refForward,
} from '../../../kernels/reference/encoder.ts';
import { expectBitIdentical, expectClose, randomFloats } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';

interface Case {
  B: number;
  T: number;
  C: number;
  V: number;
  tokens: Uint32Array;
}

function randomTokens(n: number, V: number, seed: number): Uint32Array {
  return Uint32Array.from(randomFloats(n, seed), (x) => Math.floor(((x + 1) / 2) * V) % V);
}

async function runGpu(k: Case) {
  const ctx = await nodeContext();
  const { B, T, C, V } = k;
  const inputs = new EncoderInputs(ctx, { B, T, C, V }, 'enc');
  inputs.writeStepInputs(k.tokens);
  const wte = ctx.createStorageFrom('enc:wte', randomFloats(V * C, 1));
  const wpe = ctx.createStorageFrom('enc:wpe', randomFloats(T * C, 2));
  const out = ctx.createStorage('enc:out', B * T * C * 4);
  const dout = ctx.createStorageFrom('enc:dout', randomFloats(B * T * C, 3));
  // dwte and dwpe as aligned slices of one gradient buffer; dwte starts non-zero (the
  // classifier's share), dwpe starts as garbage and must be overwritten.
  const wpeOffset = Math.ceil((V * C) / 64) * 64;
  const grads = ctx.createStorageFrom('enc:grads', randomFloats(wpeOffset + T * C, 4));
  const dwte = sliceFloats(grads, 0, V * C);
  const dwpe = sliceFloats(grads, wpeOffset, T * C);
  ctx.run([
    ...encoderForward(ctx, { out, wte, wpe }, inputs),
    ...encoderBackward(ctx, { dwte, dwpe, dout }, inputs),
  ]);
  const g = await ctx.readFloats(grads);
  return {
    out: await ctx.readFloats(out),
    dwte: g.slice(0, V * C),
    dwpe: g.slice(wpeOffset, wpeOffset + T * C),
  };
}

function reference(k: Case) {
  const { B, T, C, V } = k;
  const out = new Float64Array(B * T * C);
  refForward(
    out,
    k.tokens,
    Float64Array.from(randomFloats(V * C, 1)),
    Float64Array.from(randomFloats(T * C, 2)),
    B,
    T,
    C,
  );
  const dwte = Float64Array.from(randomFloats(V * C, 4)); // the same start as the GPU's
  const dwpe = new Float64Array(T * C);
  refBackward(dwte, dwpe, Float64Array.from(randomFloats(B * T * C, 3)), k.tokens, B, T, C);
  return { out, dwte, dwpe };
}

async function check(label: string, k: Case) {
  const got = await runGpu(k);
  const want = reference(k);
  for (const key of ['out', 'dwte', 'dwpe'] as const) expectClose(`${label} ${key}`, got[key], want[key]);
  return got;
}

describe('bucketTokens', () => {
  it('groups positions by token, stably', () => {
    const { offsets, positions } = bucketTokens([2, 0, 2, 2, 1, 0], 4);
    expect([...offsets]).toEqual([0, 2, 3, 6, 6]);
    expect([...positions]).toEqual([1, 5, 4, 0, 2, 3]);
  });

  it('refuses tokens outside the vocabulary', () => {
    expect(() => bucketTokens([0, 4], 4)).toThrow(RangeError);
    expect(() => bucketTokens([-1], 4)).toThrow(RangeError);
  });
});

describe('encoder', () => {
  it('matches the CPU reference, B = 3, T = 7, C = 20, V = 13', async () => {
    await check('small', { B: 3, T: 7, C: 20, V: 13, tokens: randomTokens(21, 13, 5) });
  });

  it('matches the CPU reference at the model shape, B = 16, T = 64, C = 128, V = 256', async () => {
    await check('model', { B: 16, T: 64, C: 128, V: 256, tokens: randomTokens(1024, 256, 6) });
  });

  it('sums repeated tokens: every position the same token, and unused tokens untouched', async () => {
    await check('one token', { B: 4, T: 9, C: 8, V: 5, tokens: new Uint32Array(36).fill(3) });
  });

  it('is deterministic', async () => {
    const k = { B: 8, T: 16, C: 32, V: 11, tokens: randomTokens(128, 11, 7) };
    const a = await runGpu(k);
    const b = await runGpu(k);
    for (const key of ['out', 'dwte', 'dwpe'] as const) expectBitIdentical(key, a[key], b[key]);
  });
});
