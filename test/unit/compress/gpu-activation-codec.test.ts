// The GPU activation encoder against its CPU reference: scales bit-equal, codes equal or (rarely,
// where the GPU's division rounds a tie the other way) one apart, for every quantized codec, odd
// shapes, partial last blocks and a grid folded past 65535 workgroups; and the golden payloads
// (test/helpers/activation-codec-golden.ts) byte for byte, as the browser test checks them in
// Chromium. WGSL lets a division be off by 2.5 ulp, so a GPU may put a value whose d / s lies
// within an ulp of a rounding boundary one code away from the CPU; SwiftShader's division is
// correctly rounded, and there the bytes are the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuActivationCodec } from '../../../kernels/compress/gpu-activation-codec.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { GpuError } from '../../../kernels/gpu/errors.ts';
import { quantizeActivationsReference } from '../../../kernels/reference/activation-codec.ts';
import {
  ACTIVATION_CODECS,
  type ActivationCodec,
  type ActivationFrame,
  codecBits,
  codecRounding,
  dequantizeActivations,
  isDeltaCodec,
} from '../../../protocol/activation-frame.ts';
import { activationRoundingSeed } from '../../../protocol/activation-noise.ts';
import { createRng } from '../../../protocol/rng.ts';
import { type CodeBits, signedCode } from '../../../protocol/signed-codes.ts';
import {
  ACTIVATION_CODEC_GOLDEN,
  cpuPayload,
  gpuPayload,
  payloadDigest,
} from '../../helpers/activation-codec-golden.ts';
import { difference } from '../../helpers/compare.ts';
import { nodeContext } from '../../helpers/node-context.ts';

let ctx: GpuContext;
const made: { destroy(): void }[] = [];
beforeAll(async () => {
  ctx = await nodeContext();
});
afterAll(() => {
  for (const thing of made) thing.destroy();
});

const QUANTIZED = ACTIVATION_CODECS.filter((c) => codecBits(c) !== 32);

function codec(capacity: number, blockSize: number): GpuActivationCodec {
  const c = new GpuActivationCodec(ctx, capacity, blockSize, `test-activations-${made.length}`);
  made.push(c);
  return c;
}

function upload(label: string, values: Float32Array): GPUBuffer {
  const buffer = ctx.createStorageFrom(label, values);
  made.push(buffer);
  return buffer;
}

/** (rows, width) of a residual stream: N(0, 1) with every 64th channel N(0, 20²). */
function residualStream(rows: number, width: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from(
    { length: rows * width },
    (_, j) => rng.nextNormal() * ((j % width) % 64 === 0 ? 20 : 1),
  );
}

/** Encodes on the GPU and on the CPU; checks scales, codes and the decoded tensor. */
async function compare(
  name: string,
  c: GpuActivationCodec,
  rows: number,
  width: number,
  kind: ActivationCodec,
) {
  const values = residualStream(rows, width, rows * 7919 + width);
  const rng = createRng(width);
  const cached = isDeltaCodec(kind) ? values.map((v) => v + 0.05 * rng.nextNormal()) : undefined;
  const stochastic = codecRounding(kind) === 'stochastic';
  const roundingSeed = stochastic
    ? activationRoundingSeed(rows, { round: width, microbatch: 0, boundary: 1, direction: 'backward' })
    : undefined;
  const payload = await c.encode(
    upload(`${name}:input`, values),
    rows,
    width,
    kind,
    cached && upload(`${name}:cached`, cached),
    roundingSeed,
  );
  const expected = quantizeActivationsReference(values, kind, c.blockSize, cached, roundingSeed);
  expect(Array.from(payload.scales)).toEqual(Array.from(expected.scales));
  const bits = codecBits(kind) as CodeBits;
  let mismatches = 0;
  let worst = 0;
  for (let j = 0; j < values.length; j++) {
    const diff = Math.abs(signedCode(payload.words, bits, j) - (expected.codes[j] as number));
    worst = Math.max(worst, diff);
    if (diff) mismatches++;
  }
  const frame: ActivationFrame = {
    direction: 'forward',
    codec: kind,
    round: 0,
    microbatch: 0,
    boundary: 0,
    sampleIdBase: 0,
    rows,
    width,
    blockSize: c.blockSize,
    ...payload,
  };
  const decoded = dequantizeActivations(frame, cached);
  if (!decoded.ok) throw new Error(decoded.error.message);
  const error = difference(decoded.value, values);
  console.log(
    `${name} ${kind}: ${mismatches} of ${values.length} codes differ from the CPU (by at most ${worst}); decoded maxDiff=${error.maxDiff.toExponential(3)} vs input (max |v| ${error.maxRef.toFixed(1)})`,
  );
  expect(worst).toBeLessThanOrEqual(1);
  expect(mismatches / values.length).toBeLessThan(1e-3);
  // Half a step of the coarsest block (under a whole one when rounding stochastically), plus a
  // step where a code went the other way.
  const step = payload.scales.reduce((m, s) => Math.max(m, s), 0);
  const bound = (stochastic ? 1 : 0.5) + (mismatches ? 1 : 0);
  expect(error.maxDiff).toBeLessThanOrEqual(step * bound * (1 + 1e-5));
}

describe('activation quantization on the GPU', () => {
  const shapes: [string, number, number, number][] = [
    ['(37, 97) block 128', 37, 97, 128],
    ['(5, 33) block 32', 5, 33, 32],
    ['(1, 7) block 4096', 1, 7, 4096],
    ['(256, 768) block 128', 256, 768, 128],
  ];
  for (const [name, rows, width, blockSize] of shapes) {
    it(`matches the CPU reference for every quantized codec: ${name}`, async () => {
      const c = codec(rows * width, blockSize);
      for (const kind of QUANTIZED) await compare(name, c, rows, width, kind);
    });
  }

  it('folds a grid of more than 65535 blocks', async () => {
    // 65539 rows of 32 and of 33 values in blocks of 32: 65539 and 67588 blocks (the last one
    // partial), past the 65535 workgroups one grid dimension may hold.
    const rows = 65_539;
    const c = codec(rows * 33, 32);
    await compare('folded', c, rows, 33, 'delta-int4');
    await compare('folded', c, rows, 32, 'int8');
    await compare('folded', c, rows, 33, 'int3-sr');
  });

  it('encodes the golden payloads byte for byte, as the CPU reference does', async () => {
    for (const golden of ACTIVATION_CODEC_GOLDEN) {
      const name = `${golden.codec} (${golden.rows}, ${golden.width}) block ${golden.blockSize}`;
      expect(payloadDigest(cpuPayload(golden)), `${name} on the CPU`).toBe(golden.crc);
      expect(payloadDigest(await gpuPayload(ctx, golden)), `${name} on the GPU`).toBe(golden.crc);
    }
    // Every quantized codec has a golden case.
    expect(new Set(ACTIVATION_CODEC_GOLDEN.map((g) => g.codec))).toEqual(new Set(QUANTIZED));
  });

  it('rounds ties to even, as the CPU does', async () => {
    // A block max of L makes s = f32(L * f32(1/L)) = 1 for every width, so x.5 values are ties.
    const ties = [0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5, 4.5, 5.5, 6.5, -6.5];
    const even = [0, 2, 2, 4, 0, -2, -2, -4, 4, 6, 6, -6];
    for (const [kind, levels] of [
      ['int8', 127],
      ['int4', 7],
      ['int3', 3],
      ['int2', 1],
    ] as const) {
      const within = ties.filter((t) => Math.abs(t) < levels);
      const values = Float32Array.from([levels, ...within, ...new Array(32 - 1 - within.length).fill(0)]);
      const payload = await codec(32, 32).encode(upload(`ties:${kind}`, values), 1, 32, kind);
      expect(Array.from(payload.scales)).toEqual([1]);
      const codes = Array.from(within, (_, j) =>
        signedCode(payload.words, codecBits(kind) as CodeBits, j + 1),
      );
      expect(codes).toEqual(even.filter((_, j) => Math.abs(ties[j] as number) < levels));
      expect(codes).toEqual(
        Array.from(quantizeActivationsReference(values, kind, 32).codes.subarray(1, 1 + within.length)),
      );
    }
  });

  it('reads fp32 back as it is', async () => {
    const values = residualStream(3, 50, 1);
    const payload = await codec(150, 32).encode(upload('fp32', values), 3, 50, 'fp32');
    expect(payload.scales.length).toBe(0);
    expect(new Float32Array(payload.words.buffer)).toEqual(values);
  });

  it('gives the same payloads when encodes overlap', async () => {
    const c = codec(64 * 96, 64);
    const x = upload('overlap:x', residualStream(64, 96, 2));
    const y = upload('overlap:y', residualStream(64, 96, 3));
    const [first, second] = await Promise.all([c.encode(x, 64, 96, 'int4'), c.encode(y, 64, 96, 'int8')]);
    expect(first).toEqual(await c.encode(x, 64, 96, 'int4'));
    expect(second).toEqual(await c.encode(y, 64, 96, 'int8'));
  });

  it('refuses wrong shapes and codec misuse with codes, and is safe to destroy twice', async () => {
    const c = new GpuActivationCodec(ctx, 100, 32, 'test-activations-misuse');
    const input = upload('misuse', new Float32Array(100));
    const code = async (call: () => Promise<unknown>) => {
      try {
        await call();
        return 'resolved';
      } catch (error) {
        return error instanceof GpuError ? error.code : String(error);
      }
    };
    expect(await code(() => c.encode(input, 11, 10, 'int8'))).toBe('ERR_SHAPE');
    expect(await code(() => c.encode(input, 10, 10, 'delta-int8'))).toBe('ERR_STATE');
    expect(await code(() => c.encode(input, 10, 10, 'int4', input))).toBe('ERR_STATE');
    expect(await code(() => c.encode(input, 10, 10, 'int4-sr'))).toBe('ERR_STATE');
    expect(await code(() => c.encode(input, 10, 10, 'int4', undefined, 7))).toBe('ERR_STATE');
    expect(await code(() => c.encode(input, 10, 10, 'int4-sr', undefined, -1))).toBe('ERR_SHAPE');
    expect(await code(() => c.encode(input, 10, 10, 'int4-sr', undefined, 2 ** 32))).toBe('ERR_SHAPE');
    expect(await code(() => c.encode(input, 10, 10, 'int2-sr', undefined, 2 ** 32 - 1))).toBe('resolved');
    expect(await code(() => c.encode(input, 10, 10, 'int4'))).toBe('resolved');
    expect(() => new GpuActivationCodec(ctx, 100, 48)).toThrow(GpuError);
    c.destroy();
    c.destroy();
    expect(await code(() => c.encode(input, 10, 10, 'int4'))).toBe('ERR_DEVICE_LOST');
  });
});
