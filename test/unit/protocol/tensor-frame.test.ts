// Tensor frames round-trip in every variant, and hostile bytes are refused with a typed error,
// never an exception, and never after allocating what a header merely claims.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../../protocol/crc32.ts';
import { expandFrame } from '../../../protocol/expand-frame.ts';
import {
  blockCount,
  dequantize,
  packCodes,
  packedWordCount,
  QUANT_BITS,
  type QuantBits,
} from '../../../protocol/quantize.ts';
import { KEEP_ALL, keepMaxFor, randomKCandidates } from '../../../protocol/random-k.ts';
import {
  BITS_OFFSET,
  CANDIDATE_COUNT_OFFSET,
  CHECKSUM_OFFSET,
  decodeTensorFrame,
  encodeTensorFrame,
  FLAGS_OFFSET,
  frameRound,
  INDEX_BYTES_OFFSET,
  PARAM_COUNT_OFFSET,
  RESERVED_OFFSET,
  TENSOR_FRAME_HEADER_BYTES,
  type TensorFrame,
  type TensorKind,
  VALUE_COUNT_OFFSET,
} from '../../../protocol/tensor-frame.ts';

/** A consistent frame: real candidates for its seed, a random subset of them, random codes. */
const frameArbitrary: fc.Arbitrary<TensorFrame> = fc
  .record({
    seed: fc.nat({ max: 0xffffffff }),
    round: fc.nat({ max: 0xffffffff }),
    fraction: fc.constantFrom(1, 0.5, 0.1),
    paramOffset: fc.nat({ max: 1_000_000 }),
    paramCount: fc.nat({ max: 3000 }),
    bits: fc.constantFrom(...QUANT_BITS),
    blockSize: fc.constantFrom(32, 64, 128, 4096),
    subset: fc.double({ min: 0, max: 1, noNaN: true }),
    all: fc.boolean(),
    noise: fc.nat(),
    kind: fc.constantFrom<TensorKind>(
      'pseudo-gradient',
      'stage-gradients',
      'tied-gradient',
      'tied-weights',
      'stage-state',
      'round-aggregate',
    ),
  })
  .map(({ kind, seed, round, fraction, paramOffset, paramCount, bits, blockSize, subset, all, noise }) => {
    const keepMax = keepMaxFor(fraction);
    const candidates = randomKCandidates(seed, keepMax, paramOffset, paramCount);
    const listed = Uint32Array.from(candidates.keys()).filter(
      (o) => ((o * 2654435761 + noise) >>> 0) / 2 ** 32 < subset,
    );
    // A list of every candidate is sent as the all-candidates flag: one encoding per content.
    const ordinals = all || listed.length === candidates.length ? null : listed;
    const valueCount = ordinals ? ordinals.length : candidates.length;
    const scales = Float32Array.from(
      { length: bits === 32 ? 0 : blockCount(valueCount, blockSize) },
      (_, b) => (b * 0.37 + (noise % 7)) * 1e-3,
    );
    // Codes are zero in the padding and in a zero-scale block, as every encoder writes them.
    const words =
      bits === 32
        ? Uint32Array.from(
            { length: valueCount },
            (_, w) => new Uint32Array(Float32Array.of((w - (noise % 100)) * 0.25).buffer)[0] as number,
          )
        : packCodes(
            Array.from({ length: valueCount }, (_, j) =>
              scales[Math.floor(j / blockSize)] === 0
                ? 0
                : ((Math.imul(j + 1, 0x9e3779b1) ^ noise) >>> 0) % 2 ** bits,
            ),
            bits,
            blockSize,
          );
    return {
      kind,
      round,
      seed,
      keepMax,
      paramOffset,
      paramCount,
      candidateCount: candidates.length,
      bits: bits as QuantBits,
      blockSize,
      ordinals,
      valueCount,
      scales,
      words,
    } satisfies TensorFrame;
  });

/** Rewrites the checksum so that a test reaches the check it means to exercise. */
function reseal(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(
    CHECKSUM_OFFSET,
    crc32(bytes.subarray(TENSOR_FRAME_HEADER_BYTES), crc32(bytes.subarray(0, CHECKSUM_OFFSET))),
    true,
  );
  return bytes;
}

describe('tensor frame', () => {
  it('round-trips every variant', () => {
    fc.assert(
      fc.property(frameArbitrary, (frame) => {
        const decoded = decodeTensorFrame(encodeTensorFrame(frame));
        expect(decoded.ok).toBe(true);
        if (decoded.ok) expect(decoded.value).toEqual(frame);
      }),
      { numRuns: 300 },
    );
  });

  it('expands to the values at the right global indices', () => {
    fc.assert(
      fc.property(
        frameArbitrary.filter((f) => f.bits !== 32),
        (frame) => {
          const expanded = expandFrame(frame);
          expect(expanded.ok).toBe(true);
          if (!expanded.ok) return;
          const candidates = randomKCandidates(
            frame.seed,
            frame.keepMax,
            frame.paramOffset,
            frame.paramCount,
          );
          const indices = frame.ordinals
            ? Array.from(frame.ordinals, (o) => candidates[o])
            : Array.from(candidates);
          expect(Array.from(expanded.value.indices)).toEqual(indices);
          expect(expanded.value.values).toEqual(
            dequantize(frame.words, frame.scales, frame.bits, frame.blockSize, frame.valueCount),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses a frame that lies about its candidate count', () => {
    const frame = {
      ...(fc.sample(
        frameArbitrary.filter((f) => f.candidateCount > 2 && f.ordinals !== null),
        { numRuns: 1, seed: 4 },
      )[0] as TensorFrame),
    };
    const lie = {
      ...frame,
      candidateCount: frame.candidateCount - 1,
      ordinals: (frame.ordinals as Uint32Array).filter((o) => o < frame.candidateCount - 1),
    };
    const decoded = decodeTensorFrame(
      encodeTensorFrame({
        ...lie,
        valueCount: lie.ordinals.length,
        scales:
          lie.bits === 32
            ? new Float32Array(0)
            : new Float32Array(blockCount(lie.ordinals.length, lie.blockSize)),
        words: new Uint32Array(packedWordCount(lie.ordinals.length, lie.bits, lie.blockSize)),
      }),
    );
    expect(decoded.ok).toBe(true);
    if (decoded.ok)
      expect(expandFrame(decoded.value)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } });
  });

  it('refuses a header that claims a huge range but sends nothing, without listing the range', () => {
    // 48 bytes: 2^28 parameters, keepMax just under KEEP_ALL, no candidates, no values.
    const hex =
      '504c5446010120010000000000000000feffffff0000000000000010000000000000000020000000000000009feda9cb';
    const bytes = Uint8Array.from(hex.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16));
    const decoded = decodeTensorFrame(bytes);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    const before = process.memoryUsage().arrayBuffers;
    expect(expandFrame(decoded.value)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } });
    // Listing 2^28 candidates would take 1 GiB.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(2 ** 20);
  });

  it('refuses every truncation', () => {
    fc.assert(
      fc.property(frameArbitrary, fc.double({ min: 0, max: 1, noNaN: true }), (frame, cut) => {
        const bytes = encodeTensorFrame(frame);
        const result = decodeTensorFrame(bytes.subarray(0, Math.floor(cut * bytes.length)));
        if (Math.floor(cut * bytes.length) < bytes.length)
          expect(result).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_TRUNCATED' } });
      }),
      { numRuns: 200 },
    );
  });

  it('refuses trailing bytes', () => {
    const frame = fc.sample(frameArbitrary, { numRuns: 1, seed: 1 })[0] as TensorFrame;
    const bytes = encodeTensorFrame(frame);
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expect(decodeTensorFrame(longer)).toMatchObject({
      ok: false,
      error: { code: 'ERR_FRAME_TRAILING_BYTES' },
    });
  });

  it('refuses any flipped bit', () => {
    fc.assert(
      fc.property(frameArbitrary, fc.nat(), (frame, at) => {
        const bytes = encodeTensorFrame(frame);
        const bit = at % (bytes.length * 8);
        bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
        expect(decodeTensorFrame(bytes).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on random bytes, and refuses them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        expect(decodeTensorFrame(bytes).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
    // Random bytes behind a valid magic and version reach the deeper checks.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 48, maxLength: 400 }), (bytes) => {
        bytes.set([0x50, 0x4c, 0x54, 0x46, 1, 1], 0);
        expect(decodeTensorFrame(bytes).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses oversized declarations before allocating', () => {
    const frame = fc.sample(
      frameArbitrary.filter((f) => f.bits === 8),
      { numRuns: 1, seed: 2 },
    )[0] as TensorFrame;
    const bytes = encodeTensorFrame(frame);
    const view = new DataView(bytes.buffer);
    // 2^31 parameters: above the parameter cap.
    view.setUint32(PARAM_COUNT_OFFSET, 2 ** 31, true);
    expect(decodeTensorFrame(bytes)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_TOO_LARGE' } });
    // Within the parameter cap, but declaring a body far beyond the frame-size cap.
    view.setUint32(PARAM_COUNT_OFFSET, 2 ** 28, true);
    view.setUint32(CANDIDATE_COUNT_OFFSET, 2 ** 28, true);
    view.setUint32(VALUE_COUNT_OFFSET, 2 ** 28, true);
    view.setUint8(BITS_OFFSET, 32);
    view.setUint8(7, 1); // all candidates
    view.setUint32(40, 0, true);
    const started = performance.now();
    expect(decodeTensorFrame(bytes)).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_TOO_LARGE' } });
    expect(decodeTensorFrame(bytes, { maxFrameBytes: 2 ** 31, maxParamCount: 2 ** 28 })).toMatchObject({
      ok: false,
      error: { code: 'ERR_FRAME_TRUNCATED' },
    });
    // Refused from the header alone: no 1 GiB allocation, no regeneration of 2^28 candidates.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses NaN and infinite values even with a valid checksum', () => {
    const quantized = fc.sample(
      frameArbitrary.filter((f) => f.bits === 4 && f.scales.length > 0),
      { numRuns: 1, seed: 3 },
    )[0] as TensorFrame;
    const withNaN = { ...quantized, scales: quantized.scales.map((s, b) => (b === 0 ? Number.NaN : s)) };
    expect(decodeTensorFrame(encodeTensorFrame(withNaN))).toMatchObject({
      ok: false,
      error: { code: 'ERR_FRAME_VALUE' },
    });
    const raw = fc.sample(
      frameArbitrary.filter((f) => f.bits === 32 && f.valueCount > 0),
      { numRuns: 1, seed: 3 },
    )[0] as TensorFrame;
    const infinite = { ...raw, words: raw.words.map((w, i) => (i === 0 ? 0x7f800000 : w)) };
    expect(decodeTensorFrame(encodeTensorFrame(infinite))).toMatchObject({
      ok: false,
      error: { code: 'ERR_FRAME_VALUE' },
    });
    // And a reserved kind, resealed so the kind check is what fires.
    const bytes = encodeTensorFrame(raw);
    bytes[5] = 7;
    expect(decodeTensorFrame(reseal(bytes))).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_KIND' } });
  });

  it('sends no index section when every candidate goes', () => {
    const frame = fc.sample(
      frameArbitrary.filter((f) => f.ordinals === null && f.keepMax !== KEEP_ALL),
      { numRuns: 1, seed: 5 },
    )[0] as TensorFrame;
    const bytes = encodeTensorFrame(frame);
    expect(bytes.length).toBe(TENSOR_FRAME_HEADER_BYTES + 4 * (frame.scales.length + frame.words.length));
  });
});

/** A small 4-bit frame listing ordinals 0, 5 and 9 of 64 candidates: one block, 4 words. */
function smallFrame(overrides: Partial<TensorFrame> = {}): TensorFrame {
  return {
    kind: 'pseudo-gradient',
    round: 7,
    seed: 1,
    keepMax: KEEP_ALL,
    paramOffset: 0,
    paramCount: 64,
    candidateCount: 64,
    bits: 4,
    blockSize: 32,
    ordinals: Uint32Array.of(0, 5, 9),
    valueCount: 3,
    scales: Float32Array.of(0.5),
    words: packCodes([1, 2, 3], 4, 32),
    ...overrides,
  };
}

/** `frame` encoded, then changed by `patch` and resealed so that only the change is refused. */
function patched(frame: TensorFrame, patch: (bytes: Uint8Array, view: DataView) => unknown) {
  const bytes = encodeTensorFrame(frame);
  // A patch that changes the length returns the new bytes; one that edits in place, nothing.
  const returned = patch(bytes, new DataView(bytes.buffer));
  const changed = returned instanceof Uint8Array ? returned : bytes;
  return decodeTensorFrame(reseal(changed));
}

describe('one encoding per frame', () => {
  const at = TENSOR_FRAME_HEADER_BYTES;
  /** Where the small frame's words start: its 3 one-byte varints pad to 4, then 1 scale. */
  const wordsAt = at + 4 + 4;

  it('re-encodes every frame it accepts to the same bytes', () => {
    // Honest frames with a few bytes changed: whatever still decodes re-encodes unchanged.
    fc.assert(
      fc.property(
        frameArbitrary,
        fc.array(
          fc.record({
            // Anywhere, or where the encodings with room to spare live: the index section
            // right after the header, and the last block's padding at the end.
            from: fc.constantFrom('start', 'index', 'end'),
            at: fc.nat(),
            // A continuation bit or a zero byte is how an overlong varint starts or ends.
            value: fc.oneof(fc.constantFrom(0x00, 0x80, 0x81), fc.nat({ max: 255 })),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        (frame, edits) => {
          const bytes = encodeTensorFrame(frame);
          // The magic, version and checksum stay, so the deeper checks are what decide.
          const body = bytes.length - 5;
          for (const edit of edits) {
            const i =
              edit.from === 'start'
                ? 5 + (edit.at % body)
                : edit.from === 'index'
                  ? TENSOR_FRAME_HEADER_BYTES + (edit.at % 8)
                  : bytes.length - 1 - (edit.at % 8);
            if (i >= 5 && i < bytes.length && (i < CHECKSUM_OFFSET || i >= TENSOR_FRAME_HEADER_BYTES))
              bytes[i] = edit.value;
          }
          const decoded = decodeTensorFrame(reseal(bytes));
          if (decoded.ok) expect(encodeTensorFrame(decoded.value)).toEqual(bytes);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('accepts the small frame as it is encoded', () => {
    expect(patched(smallFrame(), () => undefined)).toMatchObject({ ok: true });
  });

  it('refuses an overlong varint', () => {
    // The first ordinal, 0, written as 0x80 0x00; the next two shifted right by one byte.
    const decoded = patched(smallFrame(), (bytes) => {
      bytes.set([0x80, 0x00, 4, 3], at);
    });
    expect(decoded).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_INDEX' } });
    expect(decoded.ok || decoded.error.message).toMatch(/overlong/);
  });

  it('refuses an index section longer than its padding needs', () => {
    const decoded = patched(smallFrame(), (bytes, view) => {
      const longer = new Uint8Array(bytes.length + 4);
      longer.set(bytes.subarray(0, at + 4));
      longer.set(bytes.subarray(at + 4), at + 8);
      new DataView(longer.buffer).setUint32(
        INDEX_BYTES_OFFSET,
        view.getUint32(INDEX_BYTES_OFFSET, true) + 4,
        true,
      );
      return longer;
    });
    expect(decoded).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_INDEX' } });
  });

  it('refuses nonzero index padding', () => {
    const decoded = patched(smallFrame(), (bytes) => {
      bytes[at + 3] = 1;
    });
    expect(decoded).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_INDEX' } });
  });

  it('refuses a list of every candidate where the flag says it in no bytes', () => {
    const every = smallFrame({
      candidateCount: 3,
      ordinals: null,
      paramCount: 3,
    });
    // The same content with its ordinals listed: 0, 1, 2 as gaps of 0.
    const decoded = patched(every, (bytes, view) => {
      const listed = new Uint8Array(bytes.length + 4);
      listed.set(bytes.subarray(0, at));
      listed.set(bytes.subarray(at), at + 4);
      const listedView = new DataView(listed.buffer);
      listedView.setUint8(FLAGS_OFFSET, 0);
      listedView.setUint32(INDEX_BYTES_OFFSET, 4, true);
      expect(view.getUint8(FLAGS_OFFSET)).toBe(1);
      return listed;
    });
    expect(decoded).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_INDEX' } });
    expect(() => encodeTensorFrame({ ...every, ordinals: Uint32Array.of(0, 1, 2) })).toThrow(RangeError);
  });

  it('refuses padding bits set after the last code', () => {
    // Code 3 of the small frame is the fourth nibble of word 0: bit 12 and up are padding.
    for (const [word, value] of [
      [0, 0x321 | (1 << 12)],
      [0, 0x321 | (1 << 31)],
      [3, 1],
    ] as const) {
      const decoded = patched(smallFrame(), (_, view) => {
        view.setUint32(wordsAt + 4 * word, value, true);
      });
      expect(decoded).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } });
    }
    expect(() => encodeTensorFrame(smallFrame({ words: Uint32Array.of(0x321, 0, 0, 1) }))).toThrow(
      RangeError,
    );
  });

  it('refuses codes in a block whose scale is zero, and a scale of -0', () => {
    const zero = smallFrame({ scales: Float32Array.of(0), words: new Uint32Array(4) });
    expect(patched(zero, () => undefined)).toMatchObject({ ok: true });
    expect(
      patched(zero, (_, view) => {
        view.setUint32(wordsAt, 0x001, true);
      }),
    ).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_FIELD' } });
    expect(
      patched(zero, (_, view) => {
        view.setFloat32(wordsAt - 4, -0, true);
      }),
    ).toMatchObject({ ok: false, error: { code: 'ERR_FRAME_VALUE' } });
  });

  it('refuses set reserved bytes and unknown flags', () => {
    for (const patch of [
      (view: DataView) => view.setUint16(RESERVED_OFFSET, 1, true),
      (view: DataView) => view.setUint16(RESERVED_OFFSET, 0x8000, true),
      (view: DataView) => view.setUint8(FLAGS_OFFSET, 2),
    ])
      expect(patched(smallFrame(), (_, view) => patch(view))).toMatchObject({
        ok: false,
        error: { code: 'ERR_FRAME_FIELD' },
      });
  });
});

describe('frameRound', () => {
  it('reads the round from the header, and says null for anything else', () => {
    fc.assert(
      fc.property(frameArbitrary, (frame) => {
        expect(frameRound(encodeTensorFrame(frame))).toBe(frame.round);
      }),
      { numRuns: 50 },
    );
    const bytes = encodeTensorFrame(fc.sample(frameArbitrary, 1)[0] as TensorFrame);
    expect(frameRound(bytes.subarray(0, 10))).toBeNull();
    expect(frameRound(new Uint8Array(64))).toBeNull();
  });
});
