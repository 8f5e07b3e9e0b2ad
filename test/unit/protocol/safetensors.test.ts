import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DecodeResult,
  decodeSafetensors,
  encodeSafetensors,
  HEADER_OFFSET,
  MAX_HEADER_BYTES,
  type SafetensorsInput,
} from '../../../protocol/safetensors.ts';

const FIXTURES = new URL('../../fixtures/gpt2-tiny/', import.meta.url);

/** A file with a hand-written header, for inputs the encoder would never produce. */
function craft(header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(HEADER_OFFSET + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, HEADER_OFFSET);
  out.set(data, HEADER_OFFSET + json.length);
  return out;
}

function errorCode(result: DecodeResult): string {
  return result.ok ? 'ok' : result.error.code;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });

/** Any tensor, data sized to its shape; float data from raw bits so NaN payloads survive too. */
const tensorArb = (name: string) =>
  fc.tuple(shapeArb, fc.constantFrom('F64', 'F32', 'I32', 'U16', 'U8')).chain(([shape, dtype]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const bytesPer = { F64: 8, F32: 4, I32: 4, U16: 2, U8: 1 }[dtype];
    return fc.uint8Array({ minLength: n * bytesPer, maxLength: n * bytesPer }).map((raw) => {
      const buffer = raw.slice().buffer;
      const data = {
        F64: () => new Float64Array(buffer),
        F32: () => new Float32Array(buffer),
        I32: () => new Int32Array(buffer),
        U16: () => new Uint16Array(buffer),
        U8: () => new Uint8Array(buffer),
      }[dtype]();
      return { name, dtype, shape, data } as SafetensorsInput;
    });
  });

const tensorSetArb = fc
  .uniqueArray(fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'a.b')), { maxLength: 6 })
  .map((names) => names.filter((n) => n !== '__metadata__'))
  .chain((names) => fc.tuple(...names.map(tensorArb)));

const metadataArb = fc.dictionary(fc.string(), fc.string(), { maxKeys: 4, noNullPrototype: true });

describe('safetensors', () => {
  it('round-trips random tensor sets and metadata', () => {
    fc.assert(
      fc.property(tensorSetArb, metadataArb, (tensors, metadata) => {
        const bytes = encodeSafetensors(tensors, metadata);
        const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        expect((HEADER_OFFSET + headerLength) % 8).toBe(0);
        const result = decodeSafetensors(bytes);
        if (!result.ok) throw new Error(result.error.message);
        expect(result.tensors.size).toBe(tensors.length);
        for (const t of tensors) {
          const got = result.tensors.get(t.name);
          expect(got?.dtype).toBe(t.dtype);
          expect(got?.shape).toEqual(t.shape);
          expect(got && bytesOf(got.data)).toEqual(bytesOf(t.data));
        }
        expect(Object.fromEntries(result.metadata)).toEqual({ ...metadata });
        // The order tensors are given in does not change the bytes.
        expect(encodeSafetensors([...tensors].reverse(), metadata)).toEqual(bytes);
      }),
    );
  });

  it('reads the PyTorch fixtures', () => {
    const model = decodeSafetensors(readFileSync(new URL('model.safetensors', FIXTURES)));
    if (!model.ok) throw new Error(model.error.message);
    expect(model.tensors.size).toBe(28);
    const wte = model.tensors.get('transformer.wte.weight');
    expect(wte?.dtype).toBe('F32');
    expect(wte?.shape).toEqual([256, 32]);
    expect(model.tensors.get('transformer.h.1.mlp.c_fc.weight')?.shape).toEqual([32, 128]);
    const logits = decodeSafetensors(readFileSync(new URL('logits.safetensors', FIXTURES)));
    if (!logits.ok) throw new Error(logits.error.message);
    expect(logits.tensors.get('logits')?.shape).toEqual([2, 16, 256]);
  });

  it('decodes from an unaligned view', () => {
    const bytes = encodeSafetensors([
      { name: 'x', dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) },
    ]);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const result = decodeSafetensors(shifted.subarray(1));
    expect(result.ok && Array.from(result.tensors.get('x')?.data ?? [])).toEqual([1, 2, 3]);
  });

  it('widens F16 and BF16 to float32 exactly', () => {
    const half = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0x8000]);
    const brain = new Uint16Array([0x3f80, 0xc040, 0x7f80]);
    const data = new Uint8Array([...bytesOf(half), ...bytesOf(brain)]);
    const result = decodeSafetensors(
      craft(
        '{"h":{"dtype":"F16","shape":[8],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}}',
        data,
      ),
    );
    if (!result.ok) throw new Error(result.error.message);
    expect(Array.from(result.tensors.get('h')?.data ?? [])).toEqual([
      1,
      -2,
      65504,
      2 ** -24,
      Infinity,
      -Infinity,
      NaN,
      -0,
    ]);
    expect(Array.from(result.tensors.get('b')?.data ?? [])).toEqual([1, -3, Infinity]);
  });

  it('keeps __proto__ names as plain data', () => {
    const bytes = craft(
      '{"__metadata__":{"__proto__":"m"},"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
      new Uint8Array([7]),
    );
    const result = decodeSafetensors(bytes);
    if (!result.ok) throw new Error(result.error.message);
    expect(result.tensors.get('__proto__')?.data).toEqual(new Uint8Array([7]));
    expect(result.metadata.get('__proto__')).toBe('m');
    expect(({} as Record<string, unknown>).dtype).toBeUndefined();
  });

  it('refuses malformed headers with typed errors', () => {
    const entry = (dtype: string, shape: string, offsets: string) =>
      `{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}`;
    const eight = new Uint8Array(8);
    const cases: Array<[string, Uint8Array, string]> = [
      ['empty input', new Uint8Array(0), 'ERR_SAFETENSORS_TRUNCATED'],
      ['header past the end', craft('{}').subarray(0, 9), 'ERR_SAFETENSORS_TRUNCATED'],
      ['not an object', craft('[]'), 'ERR_SAFETENSORS_HEADER_JSON'],
      ['bad json', craft('{"a":'), 'ERR_SAFETENSORS_HEADER_JSON'],
      [
        'invalid utf-8',
        craft('{"\u00ff":1}').map((b) => (b === 0xc3 ? 0xff : b)),
        'ERR_SAFETENSORS_HEADER_JSON',
      ],
      ['metadata not strings', craft('{"__metadata__":{"a":1}}'), 'ERR_SAFETENSORS_BAD_METADATA'],
      ['unknown dtype', craft(`{"a":${entry('F7', '[2]', '[0,8]')}}`, eight), 'ERR_SAFETENSORS_BAD_ENTRY'],
      ['negative dim', craft(`{"a":${entry('F32', '[-2]', '[0,8]')}}`, eight), 'ERR_SAFETENSORS_BAD_ENTRY'],
      [
        'fractional dim',
        craft(`{"a":${entry('F32', '[1.5]', '[0,8]')}}`, eight),
        'ERR_SAFETENSORS_BAD_ENTRY',
      ],
      ['one offset', craft(`{"a":${entry('F32', '[2]', '[0]')}}`, eight), 'ERR_SAFETENSORS_BAD_ENTRY'],
      [
        'past the data',
        craft(`{"a":${entry('F32', '[4]', '[0,16]')}}`, eight),
        'ERR_SAFETENSORS_BAD_OFFSETS',
      ],
      ['size mismatch', craft(`{"a":${entry('F32', '[3]', '[0,8]')}}`, eight), 'ERR_SAFETENSORS_BAD_OFFSETS'],
      ['reversed range', craft(`{"a":${entry('U8', '[0]', '[8,0]')}}`, eight), 'ERR_SAFETENSORS_BAD_OFFSETS'],
      ['hole', craft(`{"a":${entry('F32', '[1]', '[4,8]')}}`, eight), 'ERR_SAFETENSORS_BAD_OFFSETS'],
      [
        'overlap',
        craft(`{"a":${entry('F32', '[2]', '[0,8]')},"b":${entry('F32', '[1]', '[4,8]')}}`, eight),
        'ERR_SAFETENSORS_BAD_OFFSETS',
      ],
      [
        'huge shape',
        craft(`{"a":${entry('U8', '[1e15,1e15]', '[0,8]')}}`, eight),
        'ERR_SAFETENSORS_BAD_OFFSETS',
      ],
      [
        'unsupported',
        craft(`{"a":${entry('I64', '[1]', '[0,8]')}}`, eight),
        'ERR_SAFETENSORS_UNSUPPORTED_DTYPE',
      ],
    ];
    for (const [label, bytes, code] of cases) expect(errorCode(decodeSafetensors(bytes)), label).toBe(code);
  });

  it('refuses a declared header above the cap before reading it', () => {
    for (const declared of [BigInt(MAX_HEADER_BYTES + 1), 2n ** 40n, 2n ** 64n - 1n]) {
      const bytes = new Uint8Array(64).fill(0x7b);
      new DataView(bytes.buffer).setBigUint64(0, declared, true);
      expect(errorCode(decodeSafetensors(bytes))).toBe('ERR_SAFETENSORS_HEADER_TOO_LARGE');
    }
  });

  it('refuses every truncation of a valid file', () => {
    const bytes = encodeSafetensors([
      { name: 'w', dtype: 'F32', shape: [2, 3], data: new Float32Array(6).fill(0.5) },
      { name: 'b', dtype: 'U8', shape: [5], data: new Uint8Array(5).fill(1) },
    ]);
    for (let n = 0; n < bytes.length; n++)
      expect(decodeSafetensors(bytes.subarray(0, n)).ok, `${n}`).toBe(false);
  });

  it('never throws on bit flips or garbage', () => {
    const valid = encodeSafetensors(
      [
        { name: 'w', dtype: 'F32', shape: [4, 4], data: new Float32Array(16).fill(1) },
        { name: 'i', dtype: 'I32', shape: [3], data: new Int32Array([1, 2, 3]) },
      ],
      { format: 'pt' },
    );
    const wellFormed = (r: DecodeResult) => r.ok || r.error.code.startsWith('ERR_SAFETENSORS_');
    fc.assert(
      fc.property(fc.array(fc.nat({ max: valid.length * 8 - 1 }), { minLength: 1, maxLength: 4 }), (bits) => {
        const flipped = valid.slice();
        for (const bit of bits) flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        expect(wellFormed(decodeSafetensors(flipped))).toBe(true);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (garbage) => {
        expect(wellFormed(decodeSafetensors(garbage))).toBe(true);
      }),
      { numRuns: 2000 },
    );
    // Garbage behind a plausible length prefix reaches the JSON parser and the entry checks.
    fc.assert(
      fc.property(fc.json(), fc.uint8Array({ maxLength: 64 }), (json, data) => {
        expect(wellFormed(decodeSafetensors(craft(json, data)))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses caller mistakes when encoding', () => {
    const t = { name: 'a', dtype: 'F32', shape: [2], data: new Float32Array(2) } as const;
    expect(() => encodeSafetensors([t, t])).toThrow(RangeError);
    expect(() => encodeSafetensors([{ ...t, shape: [3] }])).toThrow(RangeError);
    expect(() => encodeSafetensors([{ ...t, name: '__metadata__' }])).toThrow(RangeError);
  });
});
