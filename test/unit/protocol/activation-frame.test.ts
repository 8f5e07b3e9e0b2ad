// Activation frames round-trip in every codec and direction, each quantizer keeps its error
// bound (delta codecs: bounded by the change, not the value; stochastic rounding: under one step,
// and unbiased), and hostile bytes are refused with a typed error, never an exception, and never
// after allocating what a header merely claims.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeActivationsReference } from '../../../kernels/reference/activation-codec.ts';
import {
  ACTIVATION_CODECS,
  ACTIVATION_FRAME_HEADER_BYTES,
  type ActivationCodec,
  type ActivationFrame,
  activationFrameBytes,
  activationFrameHeader,
  BLOCK_SIZE_OFFSET,
  CHECKSUM_OFFSET,
  CODEC_OFFSET,
  codecBits,
  codecLevels,
  codecRounding,
  DIRECTION_OFFSET,
  decodeActivationFrame,
  dequantizeActivations,
  encodeActivationFrame,
  inverseLevels,
  isDeltaCodec,
  RESERVED_OFFSET,
  ROWS_OFFSET,
  WIDTH_OFFSET,
} from '../../../protocol/activation-frame.ts';
import { crc32 } from '../../../protocol/crc32.ts';
import { createRng } from '../../../protocol/rng.ts';
import { type CodeBits, signedCode } from '../../../protocol/signed-codes.ts';

const F32_LIMIT = Math.fround(1e30);
const f32s = (n: number) =>
  fc.float32Array({
    minLength: n,
    maxLength: n,
    noNaN: true,
    noDefaultInfinity: true,
    min: -F32_LIMIT,
    max: F32_LIMIT,
  });

interface Case {
  readonly frame: ActivationFrame;
  readonly values: Float32Array;
  /** The base of a delta codec (random for the others, and unused). */
  readonly cached: Float32Array;
}

const PLAIN = ['int8', 'int4', 'int3', 'int2'] as const;
const DELTA = ['delta-int8', 'delta-int4', 'delta-int3', 'delta-int2'] as const;
const STOCHASTIC = ['int8-sr', 'int4-sr', 'int3-sr', 'int2-sr'] as const;

/** The reference encoder's frame; a stochastic codec rounds with the noise of `roundingSeed`. */
function frameOf(
  header: Omit<ActivationFrame, 'scales' | 'words'>,
  values: Float32Array,
  cached?: Float32Array,
  roundingSeed = 0,
) {
  const base = isDeltaCodec(header.codec) ? cached : undefined;
  const seed = codecRounding(header.codec) === 'stochastic' ? roundingSeed : undefined;
  return { ...header, ...encodeActivationsReference(values, header.codec, header.blockSize, base, seed) };
}

/** A consistent frame made by the reference encoder from arbitrary finite values. */
const caseArbitrary = (codecs: readonly ActivationCodec[] = ACTIVATION_CODECS): fc.Arbitrary<Case> =>
  fc
    .record({
      direction: fc.constantFrom('forward' as const, 'backward' as const),
      codec: fc.constantFrom(...codecs),
      round: fc.nat({ max: 0xffffffff }),
      microbatch: fc.nat({ max: 0xffffffff }),
      boundary: fc.nat({ max: 0xffff }),
      sampleIdBase: fc.nat({ max: 0xffffffff }),
      rows: fc.integer({ min: 1, max: 12 }),
      width: fc.integer({ min: 1, max: 80 }),
      blockSize: fc.constantFrom(32, 64, 128, 4096),
    })
    .chain((header) =>
      fc
        .record({
          values: f32s(header.rows * header.width),
          cached: f32s(header.rows * header.width),
          roundingSeed: fc.nat({ max: 0xffffffff }),
        })
        .map(({ values, cached, roundingSeed }) => ({
          frame: frameOf(header, values, cached, roundingSeed),
          values,
          cached,
        })),
    );

/** Rewrites the checksum so that a test reaches the check it means to exercise. */
function reseal(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const crc = crc32(bytes.subarray(ACTIVATION_FRAME_HEADER_BYTES), crc32(bytes.subarray(0, CHECKSUM_OFFSET)));
  view.setUint32(CHECKSUM_OFFSET, crc, true);
  return bytes;
}

function sample(codecs: readonly ActivationCodec[], seed: number, minValues = 1): Case {
  return fc.sample(
    caseArbitrary(codecs).filter((c) => c.values.length >= minValues),
    { numRuns: 1, seed },
  )[0] as Case;
}

function refusal(bytes: Uint8Array) {
  const decoded = decodeActivationFrame(bytes);
  return decoded.ok ? 'accepted' : decoded.error.code;
}

/**
 * Per value: half a step of its block (under one step when rounding stochastically), plus the
 * f32 rounding of the arithmetic around it (the division, v - cached, q * s and cached + q * s,
 * each within 2^-24 of its operands).
 */
function expectWithinBound(
  frame: ActivationFrame,
  values: Float32Array,
  decoded: Float32Array,
  d: Float32Array,
) {
  const steps = codecRounding(frame.codec) === 'stochastic' ? 1 : 0.5;
  const { blockSize, scales } = frame;
  for (let b = 0; b < scales.length; b++) {
    const block = { from: b * blockSize, to: Math.min(values.length, (b + 1) * blockSize) };
    let dMax = 0;
    let vMax = 0;
    for (let j = block.from; j < block.to; j++) {
      dMax = Math.max(dMax, Math.abs(d[j] as number));
      vMax = Math.max(vMax, Math.abs(values[j] as number));
    }
    const s = scales[b] as number;
    // The scale follows the block max of what was quantized: the delta's for delta codecs.
    expect(s).toBe(Math.fround(dMax * inverseLevels(frame.codec)));
    const bound = s * steps + (dMax + vMax) * 2 ** -21 + 2 ** -120;
    for (let j = block.from; j < block.to; j++)
      expect(Math.abs((decoded[j] as number) - (values[j] as number))).toBeLessThanOrEqual(bound);
  }
}

describe('activation frame', () => {
  it('round-trips every codec and direction', () => {
    fc.assert(
      fc.property(caseArbitrary(), ({ frame, cached }) => {
        const decoded = decodeActivationFrame(encodeActivationFrame(frame));
        expect(decoded.ok).toBe(true);
        if (!decoded.ok) return;
        expect(decoded.value).toEqual(frame);
        expect(dequantizeActivations(decoded.value, cached)).toEqual(dequantizeActivations(frame, cached));
      }),
      { numRuns: 300 },
    );
  });

  it('names its direction, step, microbatch and codec in the header alone', () => {
    for (const [seed, codec] of ACTIVATION_CODECS.entries()) {
      const { frame } = sample([codec], seed);
      const bytes = encodeActivationFrame(frame);
      expect(activationFrameHeader(bytes)).toEqual({
        direction: frame.direction,
        round: frame.round,
        microbatch: frame.microbatch,
        codec,
      });
      const unknown = bytes.slice();
      unknown[CODEC_OFFSET] = 200;
      expect(activationFrameHeader(unknown)?.codec).toBeNull();
    }
    expect(activationFrameHeader(new Uint8Array(8))).toBeNull();
  });

  it('carries fp32 exactly', () => {
    fc.assert(
      fc.property(caseArbitrary(['fp32']), ({ frame, values }) => {
        expect(dequantizeActivations(frame)).toEqual({ ok: true, value: values });
      }),
      { numRuns: 50 },
    );
  });

  it('keeps every plain value within half a step of its block (nearest rounding)', () => {
    fc.assert(
      fc.property(caseArbitrary(PLAIN), ({ frame, values }) => {
        const decoded = dequantizeActivations(frame);
        expect(decoded.ok).toBe(true);
        if (decoded.ok) expectWithinBound(frame, values, decoded.value, values);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps every stochastically rounded value within one step of its block', () => {
    fc.assert(
      fc.property(caseArbitrary(STOCHASTIC), ({ frame, values }) => {
        const decoded = dequantizeActivations(frame);
        expect(decoded.ok).toBe(true);
        if (decoded.ok) expectWithinBound(frame, values, decoded.value, values);
      }),
      { numRuns: 200 },
    );
  });

  it('rounds stochastically without bias: the mean of many encodings converges to the value', () => {
    // One block of 128 values N(0, 1) and an outlier of 8 that sets the step s = 8 / L, encoded
    // with 4,000 rounding seeds. Rounded to nearest, a value's error is the same every time (at
    // 2 bits every value under 4 decodes to zero: the bias is the value itself). Rounded
    // stochastically, each decode is off by under a step, with a variance of at most s² / 4, so
    // the mean of N lies within 5 s / (2 sqrt N) of the value at odds of about 1 in 1.7 million
    // per value.
    const rng = createRng(11);
    const values = Float32Array.from({ length: 128 }, (_, j) => (j === 0 ? 8 : rng.nextNormal()));
    const header = { direction: 'backward', round: 0, microbatch: 0, boundary: 0, sampleIdBase: 0 } as const;
    const N = 4000;
    for (const codec of STOCHASTIC) {
      const sums = new Float64Array(values.length);
      let scale = 0;
      for (let seed = 0; seed < N; seed++) {
        const frame = frameOf(
          { ...header, codec, rows: 1, width: 128, blockSize: 128 },
          values,
          undefined,
          seed,
        );
        const decoded = dequantizeActivations(frame);
        if (!decoded.ok) throw new Error(decoded.error.message);
        decoded.value.forEach((x, j) => {
          sums[j] = (sums[j] as number) + x;
        });
        scale = frame.scales[0] as number;
      }
      const nearest = dequantizeActivations(
        frameOf(
          {
            ...header,
            codec: `int${codecBits(codec)}` as ActivationCodec,
            rows: 1,
            width: 128,
            blockSize: 128,
          },
          values,
        ),
      );
      if (!nearest.ok) throw new Error(nearest.error.message);
      let worstBias = 0;
      let nearestBias = 0;
      values.forEach((v, j) => {
        worstBias = Math.max(worstBias, Math.abs((sums[j] as number) / N - v));
        nearestBias = Math.max(nearestBias, Math.abs((nearest.value[j] as number) - v));
      });
      console.log(
        `${codec}: step ${scale.toFixed(3)}, largest |mean of ${N} - value| ${worstBias.toExponential(2)}; rounded to nearest, ${nearestBias.toExponential(2)}`,
      );
      expect(worstBias).toBeLessThanOrEqual((5 * scale) / (2 * Math.sqrt(N)));
      expect(nearestBias).toBeGreaterThan(5 * worstBias);
    }
  });

  it('rounds with different noise under different seeds, and the same noise under the same one', () => {
    const { values } = sample(['int4-sr'], 12, 64);
    const header = { direction: 'backward', round: 0, microbatch: 0, boundary: 0, sampleIdBase: 0 } as const;
    const shape = { codec: 'int4-sr', rows: 1, width: values.length, blockSize: 32 } as const;
    const encode = (seed: number) => frameOf({ ...header, ...shape }, values, undefined, seed).words;
    expect(encode(1)).toEqual(encode(1));
    expect(encode(1)).not.toEqual(encode(2));
  });

  it('rebuilds delta frames as cached + delta, within half a step of the delta', () => {
    fc.assert(
      fc.property(caseArbitrary(DELTA), ({ frame, values, cached }) => {
        const decoded = dequantizeActivations(frame, cached);
        expect(decoded.ok).toBe(true);
        if (!decoded.ok) return;
        const bits = codecBits(frame.codec) as CodeBits;
        for (let j = 0; j < values.length; j++) {
          const q = signedCode(frame.words, bits, j);
          expect(Math.abs(q)).toBeLessThanOrEqual(codecLevels(frame.codec));
          const step = Math.fround(q * (frame.scales[Math.floor(j / frame.blockSize)] as number));
          expect(decoded.value[j]).toBe(Math.fround((cached[j] as number) + step));
        }
        const d = values.map((v, j) => Math.fround(v - (cached[j] as number)));
        expectWithinBound(frame, values, decoded.value, d);
      }),
      { numRuns: 200 },
    );
  });

  it('makes slowly changing activations far more accurate with delta int4 than plain int4', () => {
    // One microbatch of a (4, 64, 768) residual stream with outlier channels, seen again an epoch
    // later having moved by 1% of its typical value. The cache holds last epoch's int8 decode.
    const [rows, width, blockSize] = [4 * 64, 768, 128];
    const rng = createRng(7);
    const before = Float32Array.from(
      { length: rows * width },
      (_, j) => rng.nextNormal() * ((j % width) % 64 === 0 ? 20 : 1),
    );
    const after = before.map((v) => v + 0.01 * rng.nextNormal());
    const header = { direction: 'forward', round: 1, microbatch: 0, boundary: 0, sampleIdBase: 0 } as const;
    const shape = { rows, width, blockSize };
    const firstSeen = dequantizeActivations(frameOf({ ...header, ...shape, codec: 'int8' }, before));
    if (!firstSeen.ok) throw new Error(firstSeen.error.message);
    const rms = (codec: ActivationCodec) => {
      const decoded = dequantizeActivations(
        frameOf({ ...header, ...shape, codec }, after, firstSeen.value),
        firstSeen.value,
      );
      if (!decoded.ok) throw new Error(decoded.error.message);
      let squares = 0;
      let max = 0;
      decoded.value.forEach((x, j) => {
        const e = Math.abs(x - (after[j] as number));
        squares += e * e;
        max = Math.max(max, e);
      });
      console.log(
        `${codec.padEnd(10)} rms error ${Math.sqrt(squares / after.length).toExponential(3)}, max ${max.toExponential(3)}`,
      );
      return Math.sqrt(squares / after.length);
    };
    const [int4, deltaInt4, int8, deltaInt8] = (['int4', 'delta-int4', 'int8', 'delta-int8'] as const).map(
      rms,
    );
    console.log(
      `delta int4 is ${((int4 as number) / (deltaInt4 as number)).toFixed(1)}x more accurate than int4`,
    );
    expect(deltaInt4).toBeLessThan((int4 as number) / 10);
    expect(deltaInt8).toBeLessThan(int8 as number);
  });

  it('costs bits/8 + 4/block bytes per value: 1.03 for int8 down to 0.28 for int2 at block 128', () => {
    const values = 4 * 64 * 768; // (B, T, C) of one GPT-2-small microbatch
    const blockSize = 128;
    const fp32 = activationFrameBytes('fp32', values, blockSize);
    for (const codec of ACTIVATION_CODECS) {
      const bytes = activationFrameBytes(codec, values, blockSize);
      const perValue = bytes / values;
      console.log(
        `${codec.padEnd(10)} ${perValue.toFixed(4)} B/value at block ${blockSize}, ${(fp32 / bytes).toFixed(2)}x smaller than fp32 (${bytes} bytes for ${values} values)`,
      );
      const expected = codecBits(codec) / 8 + (codecBits(codec) === 32 ? 0 : 4 / blockSize);
      expect(perValue).toBeCloseTo(expected, 3);
    }
  });

  it('refuses every truncation', () => {
    fc.assert(
      fc.property(caseArbitrary(), fc.double({ min: 0, max: 1, noNaN: true }), ({ frame }, cut) => {
        const bytes = encodeActivationFrame(frame);
        const length = Math.floor(cut * bytes.length);
        if (length < bytes.length) expect(refusal(bytes.subarray(0, length))).toBe('ERR_FRAME_TRUNCATED');
      }),
      { numRuns: 200 },
    );
  });

  it('refuses trailing bytes', () => {
    const bytes = encodeActivationFrame(sample(ACTIVATION_CODECS, 1).frame);
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expect(refusal(longer)).toBe('ERR_FRAME_TRAILING_BYTES');
  });

  it('refuses any flipped bit', () => {
    fc.assert(
      fc.property(caseArbitrary(), fc.nat(), ({ frame }, at) => {
        const bytes = encodeActivationFrame(frame);
        const bit = at % (bytes.length * 8);
        bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
        expect(decodeActivationFrame(bytes).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on random bytes, and refuses them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        expect(decodeActivationFrame(bytes).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
    // Random bytes behind a valid magic, version, direction and codec reach the deeper checks.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 36, maxLength: 400 }), fc.nat({ max: 12 }), (bytes, codec) => {
        bytes.set([0x50, 0x4c, 0x54, 0x41, 1, 1, codec, 0], 0);
        expect(decodeActivationFrame(bytes).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses oversized declarations before allocating', () => {
    const bytes = encodeActivationFrame(sample(['fp32'], 2).frame);
    const view = new DataView(bytes.buffer);
    const started = performance.now();
    // 2^16 x 2^16 values: above the value cap (and, unchecked, 16 GiB of f32).
    view.setUint32(ROWS_OFFSET, 2 ** 16, true);
    view.setUint32(WIDTH_OFFSET, 2 ** 16, true);
    expect(refusal(bytes)).toBe('ERR_FRAME_TOO_LARGE');
    // 2^26 values is within the value cap, but 256 MiB of f32 is above the 64 MiB frame cap.
    view.setUint32(ROWS_OFFSET, 2 ** 13, true);
    view.setUint32(WIDTH_OFFSET, 2 ** 13, true);
    expect(refusal(bytes)).toBe('ERR_FRAME_TOO_LARGE');
    // With the caps lifted, the same header is refused for the bytes it lacks.
    expect(decodeActivationFrame(bytes, { maxFrameBytes: 2 ** 31, maxValues: 2 ** 32 })).toMatchObject({
      ok: false,
      error: { code: 'ERR_FRAME_TRUNCATED' },
    });
    // Refused from the header alone: no 256 MiB allocation, no 256 MiB checksum.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses NaN, infinite, negative and overflowing scales and raw values', () => {
    const quantized = encodeActivationFrame(sample(['int4'], 3).frame);
    expect(refusal(quantized)).toBe('accepted');
    // 3e38 is finite, but 7 x 3e38 is not: its codes would decode to infinity.
    for (const scale of [Number.NaN, Number.POSITIVE_INFINITY, -1, 3e38]) {
      const copy = quantized.slice();
      new DataView(copy.buffer).setFloat32(ACTIVATION_FRAME_HEADER_BYTES, scale, true);
      expect(refusal(reseal(copy)), `scale ${scale}`).toBe('ERR_FRAME_VALUE');
    }
    const raw = encodeActivationFrame(sample(['fp32'], 3).frame);
    new DataView(raw.buffer).setUint32(ACTIVATION_FRAME_HEADER_BYTES, 0x7fc00000, true); // NaN
    expect(refusal(reseal(raw))).toBe('ERR_FRAME_VALUE');
  });

  it('refuses the never-written code -2^(bits-1) and non-zero padding', () => {
    for (const codec of ['int8', 'delta-int4', 'int3', 'delta-int2', 'int2-sr'] as const) {
      // Five values in a 32-value block: the first word holds codes, the last only padding.
      const values = Float32Array.of(-2, -1, 0, 1, 2);
      const header = {
        direction: 'backward',
        round: 0,
        microbatch: 0,
        boundary: 0,
        sampleIdBase: 0,
      } as const;
      const frame = frameOf(
        { ...header, codec, rows: 1, width: 5, blockSize: 32 },
        values,
        new Float32Array(5),
      );
      const bits = codecBits(codec);
      const firstWord = ACTIVATION_FRAME_HEADER_BYTES + 4;
      const forbidden = encodeActivationFrame(frame);
      const view = new DataView(forbidden.buffer);
      const lowCodeCleared = view.getUint32(firstWord, true) & ~((1 << bits) - 1);
      view.setUint32(firstWord, (lowCodeCleared | (1 << (bits - 1))) >>> 0, true);
      expect(refusal(reseal(forbidden)), `${codec}: code -2^(bits-1)`).toBe('ERR_FRAME_VALUE');
      const padded = encodeActivationFrame(frame);
      new DataView(padded.buffer).setUint32(padded.length - 4, 1, true);
      expect(refusal(reseal(padded)), `${codec}: padding`).toBe('ERR_FRAME_VALUE');
    }
    // Eleven 3-bit codes: code 10 straddles the first two words (bits 30 to 32), and the
    // padding starts at bit 33, inside the second word.
    const frame = frameOf(
      {
        direction: 'forward',
        round: 0,
        microbatch: 0,
        boundary: 0,
        sampleIdBase: 0,
        codec: 'int3',
        rows: 1,
        width: 11,
        blockSize: 32,
      },
      Float32Array.from({ length: 11 }, (_, j) => j - 5),
    );
    const words = ACTIVATION_FRAME_HEADER_BYTES + 4;
    const edited = (change: (first: number, second: number) => [number, number]) => {
      const bytes = encodeActivationFrame(frame);
      const view = new DataView(bytes.buffer);
      const [first, second] = change(view.getUint32(words, true), view.getUint32(words + 4, true));
      view.setUint32(words, first >>> 0, true);
      view.setUint32(words + 4, second >>> 0, true);
      return refusal(reseal(bytes));
    };
    expect(refusal(encodeActivationFrame(frame))).toBe('accepted');
    // Code 10 (the value 5, code 3 = 0b011) made 0b100 = -4: its two low bits end the first word,
    // its high bit starts the second.
    expect(
      edited((a, b) => [a & 0x3fffffff, b | 1]),
      'int3: a straddling -4',
    ).toBe('ERR_FRAME_VALUE');
    // Made 0b010 instead, it is a valid code.
    expect(edited((a, b) => [(a & 0x3fffffff) | 0x80000000, b])).toBe('accepted');
    expect(
      edited((a, b) => [a, b | 2]),
      'int3: padding after a straddling code',
    ).toBe('ERR_FRAME_VALUE');
  });

  it('refuses unknown magic, version, direction, codec, reserved bits and block sizes', () => {
    const bytes = encodeActivationFrame(sample(['int8'], 5).frame);
    const cases: [number, number, string][] = [
      [0, 0x51, 'ERR_FRAME_MAGIC'],
      [4, 2, 'ERR_FRAME_VERSION'],
      [DIRECTION_OFFSET, 0, 'ERR_FRAME_KIND'],
      [DIRECTION_OFFSET, 3, 'ERR_FRAME_KIND'],
      [CODEC_OFFSET, 13, 'ERR_FRAME_FIELD'],
      [CODEC_OFFSET, 255, 'ERR_FRAME_FIELD'],
      [RESERVED_OFFSET, 1, 'ERR_FRAME_FIELD'],
      [BLOCK_SIZE_OFFSET, 33, 'ERR_FRAME_FIELD'],
      [ROWS_OFFSET, 0, 'ERR_FRAME_FIELD'],
    ];
    for (const [offset, value, code] of cases) {
      const copy = bytes.slice();
      if (offset === ROWS_OFFSET) new DataView(copy.buffer).setUint32(offset, value, true);
      else if (offset === BLOCK_SIZE_OFFSET) new DataView(copy.buffer).setUint16(offset, value, true);
      else copy[offset] = value;
      expect(refusal(reseal(copy)), `byte ${offset} = ${value}`).toBe(code);
    }
  });

  it('decodes a delta frame only against a cached tensor of its shape', () => {
    const { frame, cached } = sample(['delta-int8'], 6, 2);
    expect(dequantizeActivations(frame)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_NO_CACHE' } });
    expect(dequantizeActivations(frame, cached.subarray(1))).toMatchObject({
      ok: false,
      error: { code: 'ERR_FRAME_NO_CACHE' },
    });
    expect(dequantizeActivations(frame, cached).ok).toBe(true);
    // A delta that overflows f32 on top of a huge cached value is refused, not passed on as Inf.
    const huge = new Float32Array(cached.length).fill(3.4e38);
    const up = frameOf(frame, new Float32Array(cached.length).fill(1e37), new Float32Array(cached.length));
    expect(dequantizeActivations(up, huge)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_VALUE' } });
  });

  it('throws on frames of ours that are inconsistent', () => {
    const { frame } = sample(['int4'], 7);
    expect(() => encodeActivationFrame({ ...frame, rows: frame.rows + 4096 })).toThrow(RangeError);
    expect(() => encodeActivationFrame({ ...frame, boundary: 70_000 })).toThrow(RangeError);
    expect(() => encodeActivationFrame({ ...frame, scales: frame.scales.map(() => Number.NaN) })).toThrow(
      RangeError,
    );
  });
});
