// The GPU compressor against its CPU reference: random-k picks the same candidates, top-k
// the exact k largest magnitudes (ties to lower indices), quantization stays within one step,
// and error feedback loses nothing over many rounds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuCompressor } from '../../../kernels/compress/gpu-compressor.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { accumulateReference, compressReference } from '../../../kernels/reference/compress.ts';
import { residualAfter } from '../../../kernels/reference/inner-loop.ts';
import { type CompressionSettings, topKCount } from '../../../protocol/compression-settings.ts';
import { dequantize, type QuantBits, quantStep, unpackCode } from '../../../protocol/quantize.ts';
import { createRng } from '../../../protocol/rng.ts';
import { nodeContext } from '../../helpers/node-context.ts';

let ctx: GpuContext;
const made: GpuCompressor[] = [];
beforeAll(async () => {
  ctx = await nodeContext();
});
afterAll(() => {
  for (const c of made) c.destroy();
});

function compressor(n: number, settings: CompressionSettings): GpuCompressor {
  const c = new GpuCompressor(ctx, n, settings, `test-${made.length}`);
  made.push(c);
  return c;
}

/** θ_start and θ_local whose difference is `delta` (θ_local = 0 keeps it exact). */
function upload(c: GpuCompressor, delta: Float32Array): GPUBuffer {
  c.setStart(delta);
  const zero = ctx.createStorage('zero', delta.length * 4);
  return zero;
}

function randomValues(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.nextNormal() * 10 ** (rng.nextBelow(4) - 3));
}

/** Few distinct magnitudes, both signs, zeros: many ties at any threshold. */
function tiedValues(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const magnitudes = [0, 0.25, 0.5, 1, 2];
  return Float32Array.from(
    { length: n },
    () => (rng.nextBelow(2) ? -1 : 1) * (magnitudes[rng.nextBelow(5)] as number),
  );
}

describe('top-k on the GPU', () => {
  const cases: [string, number, CompressionSettings, (n: number, s: number) => Float32Array][] = [
    ['random values, random-k on', 5000, { randomK: 0.3, topK: 0.1, bits: 32, blockSize: 64 }, randomValues],
    ['many ties, random-k off', 4099, { randomK: 1, topK: 0.37, bits: 32, blockSize: 64 }, tiedValues],
    ['many ties, random-k on', 3001, { randomK: 0.5, topK: 0.5, bits: 32, blockSize: 32 }, tiedValues],
    ['k = 1', 777, { randomK: 1, topK: 1e-6, bits: 32, blockSize: 32 }, randomValues],
    ['every candidate', 1500, { randomK: 0.2, topK: 1, bits: 32, blockSize: 32 }, tiedValues],
    ['tiny n', 37, { randomK: 1, topK: 0.25, bits: 32, blockSize: 32 }, tiedValues],
  ];
  for (const [name, n, settings, make] of cases) {
    it(`selects exactly the k largest magnitudes: ${name}`, async () => {
      const delta = make(n, n);
      const c = compressor(n, settings);
      const payload = await c.compress(upload(c, delta), 1234, 99);
      const expected = compressReference(delta, settings, 1234, 99);
      expect(payload.candidateCount).toBe(expected.candidateCount);
      expect(Array.from(payload.indices)).toEqual(Array.from(expected.indices));
      // bits 32: the words are the kept values themselves (acc, where -0 - 0 + 0 is +0).
      const acc = accumulateReference(delta, new Float32Array(n), new Float32Array(n));
      expect(Array.from(new Float32Array(payload.words.buffer))).toEqual(
        Array.from(expected.indices, (i) => acc[i]),
      );
    });
  }

  it('matches the reference on a default-model-sized vector', async () => {
    const n = 834_304;
    const settings: CompressionSettings = { randomK: 0.1, topK: 0.1, bits: 4, blockSize: 128 };
    const delta = randomValues(n, 3);
    const c = compressor(n, settings);
    const payload = await c.compress(upload(c, delta), 77, 5);
    const expected = compressReference(delta, settings, 77, 5);
    expect(Array.from(payload.indices)).toEqual(Array.from(expected.indices));
    expect(Array.from(payload.scales)).toEqual(Array.from(expected.scales));
  });
});

describe('top-k per chunk on the GPU (SparseLoCo)', () => {
  const cases: [string, number, CompressionSettings, (n: number, s: number) => Float32Array][] = [
    ['random values, a partial last chunk', 10_000, chunked(0.03, 4096, 2, 64), randomValues],
    ['many ties, small chunks', 5000, chunked(0.37, 256, 32, 64), tiedValues],
    [
      'most chunks keep nothing: the one value goes to the first',
      3000,
      chunked(1e-6, 256, 32, 32),
      randomValues,
    ],
    ['every value', 1300, chunked(1, 512, 32, 32), tiedValues],
    ['fewer values than one chunk', 100, chunked(0.25, 4096, 32, 32), tiedValues],
  ];
  for (const [name, n, settings, make] of cases) {
    it(`keeps exactly each chunk's share of its largest magnitudes: ${name}`, async () => {
      const delta = make(n, n + 17);
      const c = compressor(n, settings);
      const payload = await c.compress(upload(c, delta), 4321, 8);
      // The GPU frames acc = delta − 0 + 0, where −0 becomes +0.
      const acc = accumulateReference(delta, new Float32Array(n), new Float32Array(n));
      const expected = compressReference(acc, settings, 4321, 8);
      expect(payload.indices.length).toBe(topKCount(n, settings.topK));
      expect(Array.from(payload.indices)).toEqual(Array.from(expected.indices));
      expect(Array.from(payload.scales)).toEqual(Array.from(expected.scales));
      expect(Array.from(payload.words)).toEqual(Array.from(expected.words));
    });
  }

  it('gives a chunk of small values its share beside a chunk of large ones', async () => {
    // A global top-k would keep only the first chunk's values.
    const delta = Float32Array.from({ length: 1024 }, (_, i) => (i < 512 ? 100 : 0.001) * (1 + (i % 7)));
    const c = compressor(delta.length, chunked(0.1, 512, 32, 32));
    const { indices } = await c.compress(upload(c, delta), 1, 1);
    expect(indices.filter((i) => i < 512).length).toBe(51);
    expect(indices.filter((i) => i >= 512).length).toBe(51);
  });

  it('matches the reference on a default-model-sized vector with decayed feedback', async () => {
    const n = 834_304;
    const settings: CompressionSettings = { ...chunked(0.03, 4096, 2, 64), errorDecay: 0.95 };
    const delta = randomValues(n, 5);
    const c = compressor(n, settings);
    const payload = await c.compress(upload(c, delta), 77, 5);
    const expected = compressReference(delta, settings, 77, 5);
    expect(Array.from(payload.indices)).toEqual(Array.from(expected.indices));
    expect(Array.from(payload.scales)).toEqual(Array.from(expected.scales));
    expect(Array.from(payload.words)).toEqual(Array.from(expected.words));
  });

  it('refuses more chunks than one dispatch can hold', () => {
    expect(() => new GpuCompressor(ctx, 65_536 * 256, chunked(0.01, 256, 2, 64))).toThrow(/chunks/);
  });
});

function chunked(topK: number, chunkSize: number, bits: QuantBits, blockSize: number): CompressionSettings {
  return { randomK: 1, topK, bits, blockSize, chunkSize };
}

describe('quantization on the GPU', () => {
  for (const bits of [1, 2, 4, 8] as const) {
    it(`${bits}-bit codes stay within one step of the value`, async () => {
      const n = 20_000;
      const settings: CompressionSettings = { randomK: 0.5, topK: 0.4, bits, blockSize: 128 };
      const delta = randomValues(n, bits);
      const c = compressor(n, settings);
      const payload = await c.compress(upload(c, delta), 4242, 17);
      const expected = compressReference(delta, settings, 4242, 17);
      expect(Array.from(payload.indices)).toEqual(Array.from(expected.indices));
      expect(Array.from(payload.scales)).toEqual(Array.from(expected.scales));
      const k = payload.indices.length;
      const decoded = dequantize(payload.words, payload.scales, bits, 128, k);
      let mismatches = 0;
      for (let j = 0; j < k; j++) {
        const value = delta[payload.indices[j] as number] as number;
        const scale = payload.scales[Math.floor(j / 128)] as number;
        const step = quantStep(scale, bits);
        // Within [-s, s] a value is off by less than a step; beyond (1 bit only: s is the
        // block's mean magnitude there) it goes to the nearer end.
        const error = Math.abs((decoded[j] as number) - value);
        if (Math.abs(value) <= scale) expect(error).toBeLessThanOrEqual(step * (1 + 1e-6));
        else expect(decoded[j]).toBe(Math.sign(value) * scale);
        const code = unpackCode(payload.words, bits, j);
        const diff = Math.abs(code - (expected.codes[j] as number));
        expect(diff).toBeLessThanOrEqual(1);
        if (diff) mismatches++;
      }
      // The GPU may round (v + s) / step + u differently from the CPU (a fused multiply-add,
      // a division within 2.5 ulp): rarely, and only by one code.
      console.log(`${bits}-bit: ${mismatches} of ${k} codes differ from the CPU by one`);
      expect(mismatches / k).toBeLessThan(1e-3);
    });
  }

  it('1 bit: the scale is the mean magnitude, so a typical value is not blown up to the max', async () => {
    const n = 128;
    const settings: CompressionSettings = { randomK: 1, topK: 1, bits: 1, blockSize: 128 };
    const delta = Float32Array.from({ length: n }, (_, i) => (i === 0 ? 50 : i % 2 ? 1 : -1));
    const c = compressor(n, settings);
    const payload = await c.compress(upload(c, delta), 1, 2);
    expect(payload.scales[0]).toBeCloseTo((50 + 127) / 128, 5);
  });

  it('rounds without bias', async () => {
    const n = 256;
    const settings: CompressionSettings = { randomK: 1, topK: 1, bits: 2, blockSize: 256 };
    const delta = Float32Array.from({ length: n }, (_, i) => (i === 0 ? 1 : (i / n) * 0.6 - 0.3));
    const c = compressor(n, settings);
    const zero = upload(c, delta);
    const sums = new Float64Array(n);
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const payload = await c.compress(zero, 1, t);
      dequantize(payload.words, payload.scales, 2, 256, n).forEach((v, j) => {
        sums[j] = (sums[j] as number) + v;
      });
    }
    // 2 bits step by 2/3 here; the mean of 200 draws is within ~4 standard errors (0.67/sqrt(200)).
    let worst = 0;
    for (let j = 1; j < n; j++)
      worst = Math.max(worst, Math.abs((sums[j] as number) / trials - (delta[j] as number)));
    expect(worst).toBeLessThan(0.15);
    expect(worst).toBeGreaterThan(0); // the draws really vary
  });
});

describe('error feedback', () => {
  it('loses nothing: what was sent plus the residual is what went in', async () => {
    const n = 6000;
    const settings: CompressionSettings = { randomK: 0.25, topK: 0.2, bits: 2, blockSize: 64 };
    const c = compressor(n, settings);
    const current = ctx.createStorage('current', n * 4);
    const inputs = new Float64Array(n);
    const sent = new Float64Array(n);
    let residual: Float32Array = new Float32Array(n);
    for (let round = 0; round < 30; round++) {
      const start = randomValues(n, 1000 + round);
      const local = randomValues(n, 2000 + round);
      c.setStart(start);
      ctx.write(current, local);
      const expectedAcc = accumulateReference(start, local, residual);
      const payload = await c.compress(current, round * 7 + 1, round);
      const values = dequantize(payload.words, payload.scales, 2, 64, payload.indices.length);
      c.applyErrorFeedback(values);
      for (let i = 0; i < n; i++)
        inputs[i] = (inputs[i] as number) + Math.fround((start[i] as number) - (local[i] as number));
      payload.indices.forEach((i, j) => {
        sent[i] = (sent[i] as number) + (values[j] as number);
      });
      residual = await c.readResidual();
      // Exactly acc − sent, elementwise, every round.
      const expectedResidual = expectedAcc.slice();
      payload.indices.forEach((i, j) => {
        expectedResidual[i] = Math.fround((expectedAcc[i] as number) - (values[j] as number));
      });
      expect(residual).toEqual(expectedResidual);
    }
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < n; i++) {
      worst = Math.max(
        worst,
        Math.abs((sent[i] as number) + (residual[i] as number) - (inputs[i] as number)),
      );
      scale = Math.max(scale, Math.abs(inputs[i] as number));
    }
    console.log(
      `error feedback over 30 rounds: max |sent + residual − inputs| = ${worst.toExponential(2)} (inputs up to ${scale.toFixed(2)})`,
    );
    expect(worst).toBeLessThan(1e-5 * Math.max(1, scale));
  });

  it('decays what was not sent by β, exactly as the CPU reference does', async () => {
    const n = 5000;
    const settings: CompressionSettings = { ...chunked(0.05, 1024, 2, 64), errorDecay: 0.95 };
    const c = compressor(n, settings);
    const current = ctx.createStorage('current', n * 4);
    let residual: Float32Array = new Float32Array(n);
    for (let round = 0; round < 5; round++) {
      const start = randomValues(n, 3000 + round);
      const local = randomValues(n, 4000 + round);
      c.setStart(start);
      ctx.write(current, local);
      const acc = accumulateReference(start, local, residual);
      const payload = await c.compress(current, round, round);
      expect(Array.from(payload.words)).toEqual(
        Array.from(compressReference(acc, settings, round, round).words),
      );
      c.applyErrorFeedback(dequantize(payload.words, payload.scales, 2, 64, payload.indices.length));
      residual = await c.readResidual();
      expect(residual).toEqual(residualAfter(acc, payload, 0.95));
      // Unsent values shrink by β; none is carried whole.
      const unsent = payload.indices.includes(0) ? 1 : 0;
      expect(residual[unsent]).toBe(Math.fround(Math.fround(0.95) * (acc[unsent] as number)));
    }
  });

  it('refuses feedback before a compression, and use after destroy', () => {
    const c = new GpuCompressor(ctx, 64, { randomK: 1, topK: 1, bits: 8, blockSize: 32 });
    expect(() => c.applyErrorFeedback(new Float32Array(0))).toThrow(/compress/);
    c.destroy();
    c.destroy();
    expect(() => c.setStart(new Float32Array(64))).toThrow(/destroy/);
  });
});
