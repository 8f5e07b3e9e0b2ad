// A small reader and writer for Hugging Face's safetensors format, the way trained models
// leave the relay (https://github.com/huggingface/safetensors, "Format" in its README):
//
//   [u64 little-endian N][N bytes of UTF-8 JSON header][data]
//
// The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]}, offsets
// relative to the start of the data; an optional "__metadata__" entry maps strings to strings.
// Tensors are row-major and little-endian. The decoder takes bytes from peers and from disk,
// so it never throws: every length is checked against the buffer and a cap before anything is
// allocated, and the tensors must tile the data exactly (no holes, no overlaps), as the
// reference implementation demands; that also defeats aliasing through duplicate JSON keys.

/** Byte offsets of the fixed framing. */
export const HEADER_LENGTH_OFFSET = 0;
export const HEADER_LENGTH_BYTES = 8;
export const HEADER_OFFSET = HEADER_LENGTH_OFFSET + HEADER_LENGTH_BYTES;
/** The writer pads the header with spaces so the data, and so every tensor, starts 8-aligned. */
export const HEADER_ALIGN = 8;
/** The reference implementation's cap on the JSON header (MAX_HEADER_SIZE, 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const SPACE = 0x20;
const OPEN_BRACE = 0x7b;

/** Element sizes of every dtype the format defines; the reader needs them all to check offsets. */
const DTYPE_BYTES: Readonly<Record<string, number>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, number>, {
    BOOL: 1,
    U8: 1,
    I8: 1,
    F8_E5M2: 1,
    F8_E4M3: 1,
    I16: 2,
    U16: 2,
    F16: 2,
    BF16: 2,
    I32: 4,
    U32: 4,
    F32: 4,
    F64: 8,
    I64: 8,
    U64: 8,
  }),
);

/** The dtypes this module writes, each with the typed array that holds it. */
export type TensorData =
  | { readonly dtype: 'F64'; readonly data: Float64Array }
  | { readonly dtype: 'F32'; readonly data: Float32Array }
  | { readonly dtype: 'I32'; readonly data: Int32Array }
  | { readonly dtype: 'U16'; readonly data: Uint16Array }
  | { readonly dtype: 'U8'; readonly data: Uint8Array };

/** One tensor to write. `data.length` must equal the product of `shape` (1 for a scalar). */
export type SafetensorsInput = TensorData & { readonly name: string; readonly shape: readonly number[] };

/** One tensor read back. Half-precision tensors arrive widened to float32 (exactly). */
export type DecodedTensor = (TensorData | { readonly dtype: 'F16' | 'BF16'; readonly data: Float32Array }) & {
  readonly shape: readonly number[];
};
export type SafetensorsDtype = DecodedTensor['dtype'];

export type SafetensorsErrorCode =
  | 'ERR_SAFETENSORS_TRUNCATED' // shorter than its framing or its declared header
  | 'ERR_SAFETENSORS_HEADER_TOO_LARGE' // declared header length above MAX_HEADER_BYTES
  | 'ERR_SAFETENSORS_HEADER_JSON' // header is not UTF-8 JSON, or not an object
  | 'ERR_SAFETENSORS_BAD_METADATA' // __metadata__ is not an object of strings
  | 'ERR_SAFETENSORS_BAD_ENTRY' // a tensor entry lacks a known dtype, a shape or two offsets
  | 'ERR_SAFETENSORS_BAD_OFFSETS' // offsets out of range, overlapping, leaving holes, or sized wrong
  | 'ERR_SAFETENSORS_UNSUPPORTED_DTYPE'; // a valid dtype this reader cannot represent (BOOL, I64, ...)

export interface SafetensorsError {
  readonly code: SafetensorsErrorCode;
  readonly message: string;
}

export type DecodeResult =
  | {
      readonly ok: true;
      readonly tensors: Map<string, DecodedTensor>;
      readonly metadata: Map<string, string>;
    }
  | { readonly ok: false; readonly error: SafetensorsError };

const WRITE_BYTES: Readonly<Record<TensorData['dtype'], number>> = { F64: 8, F32: 4, I32: 4, U16: 2, U8: 1 };

/** All current WebGPU and JavaScript hosts are little-endian; a big-endian one swaps bytes. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Serialises tensors. Tensors are sorted like the reference writer sorts them (larger element
 * size first, then by name), so the bytes depend only on the set given and every tensor stays
 * aligned to its element size. Throws RangeError on a caller's mistake (duplicate or reserved
 * name, shape not matching the data): this encodes our own state, not peer input.
 */
export function encodeSafetensors(
  tensors: readonly SafetensorsInput[],
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const sorted = [...tensors].sort(
    (a, b) => WRITE_BYTES[b.dtype] - WRITE_BYTES[a.dtype] || compareCodeUnits(a.name, b.name),
  );
  const parts: string[] = [];
  const meta = Object.entries(metadata);
  if (meta.length > 0) {
    const fields = meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(String(v))}`);
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${fields.join(',')}}`);
  }
  const seen = new Set<string>();
  let end = 0;
  for (const t of sorted) {
    if (t.name === METADATA_KEY) throw new RangeError(`"${METADATA_KEY}" cannot name a tensor`);
    if (seen.has(t.name)) throw new RangeError(`duplicate tensor name ${t.name}`);
    seen.add(t.name);
    const count = t.shape.reduce((n, d) => {
      if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`${t.name}: bad dimension ${d}`);
      return n * d;
    }, 1);
    if (count !== t.data.length) {
      throw new RangeError(
        `${t.name}: shape [${t.shape}] holds ${count} elements, data has ${t.data.length}`,
      );
    }
    const begin = end;
    end += t.data.byteLength;
    const entry = `{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${begin},${end}]}`;
    parts.push(`${JSON.stringify(t.name)}:${entry}`);
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerBytes = Math.ceil((HEADER_OFFSET + json.length) / HEADER_ALIGN) * HEADER_ALIGN - HEADER_OFFSET;
  const out = new Uint8Array(HEADER_OFFSET + headerBytes + end);
  const view = new DataView(out.buffer);
  // u64 as two u32 halves: the header is far below 2^32 bytes, so the high half is zero.
  view.setUint32(HEADER_LENGTH_OFFSET, headerBytes, true);
  view.setUint32(HEADER_LENGTH_OFFSET + 4, 0, true);
  out.set(json, HEADER_OFFSET);
  out.fill(SPACE, HEADER_OFFSET + json.length, HEADER_OFFSET + headerBytes);
  let at = HEADER_OFFSET + headerBytes;
  for (const t of sorted) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(bytes, at);
    if (!HOST_LITTLE_ENDIAN) swapBytes(out.subarray(at, at + bytes.length), WRITE_BYTES[t.dtype]);
    at += bytes.length;
  }
  return out;
}

/** Parses safetensors bytes. Never throws; a bad file gives `{ok: false, error}`. */
export function decodeSafetensors(bytes: Uint8Array): DecodeResult {
  if (bytes.length < HEADER_OFFSET) return fail('ERR_SAFETENSORS_TRUNCATED', `${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const low = view.getUint32(HEADER_LENGTH_OFFSET, true);
  const high = view.getUint32(HEADER_LENGTH_OFFSET + 4, true);
  if (high !== 0 || low > MAX_HEADER_BYTES) {
    const declared = high * 2 ** 32 + low;
    return fail(
      'ERR_SAFETENSORS_HEADER_TOO_LARGE',
      `header of ${declared} bytes exceeds ${MAX_HEADER_BYTES}`,
    );
  }
  const dataStart = HEADER_OFFSET + low;
  if (dataStart > bytes.length) {
    return fail('ERR_SAFETENSORS_TRUNCATED', `header of ${low} bytes, only ${bytes.length} in all`);
  }
  const headerBytes = bytes.subarray(HEADER_OFFSET, dataStart);
  // The format requires the header to open with '{'; checking first avoids parsing garbage.
  if (headerBytes[0] !== OPEN_BRACE) return fail('ERR_SAFETENSORS_HEADER_JSON', 'header must start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    return fail('ERR_SAFETENSORS_HEADER_JSON', e instanceof Error ? e.message : String(e));
  }
  if (!isObject(header)) return fail('ERR_SAFETENSORS_HEADER_JSON', 'header is not a JSON object');

  const dataLength = bytes.length - dataStart;
  const metadata = new Map<string, string>();
  const entries: Array<Exclude<ReturnType<typeof parseEntry>, SafetensorsError>> = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isObject(value)) return fail('ERR_SAFETENSORS_BAD_METADATA', `${METADATA_KEY} is not an object`);
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string')
          return fail('ERR_SAFETENSORS_BAD_METADATA', `metadata ${k} is not a string`);
        metadata.set(k, v);
      }
      continue;
    }
    const entry = parseEntry(name, value, dataLength);
    if ('code' in entry) return { ok: false, error: entry };
    entries.push(entry);
  }

  // The tensors must tile [0, dataLength) exactly: sorted by offset, each starts where the
  // previous one ended. Zero-sized tensors sort before a non-empty one at the same offset.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of entries) {
    if (e.begin !== cursor) {
      const what = e.begin < cursor ? 'overlaps the previous tensor' : 'leaves a hole before it';
      return fail('ERR_SAFETENSORS_BAD_OFFSETS', `${e.name} at ${e.begin} ${what} (ends at ${cursor})`);
    }
    cursor = e.end;
  }
  if (cursor !== dataLength) {
    return fail('ERR_SAFETENSORS_BAD_OFFSETS', `tensors cover ${cursor} of ${dataLength} data bytes`);
  }

  const tensors = new Map<string, DecodedTensor>();
  for (const e of entries) {
    // A fresh, aligned copy. Not `bytes.slice`: on a Node Buffer that is a view of the pool.
    const raw = new Uint8Array(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    if (!HOST_LITTLE_ENDIAN) swapBytes(raw, e.itemBytes);
    const tensor = toTyped(e.dtype, e.shape, raw);
    if (!tensor) return fail('ERR_SAFETENSORS_UNSUPPORTED_DTYPE', `${e.name} has dtype ${e.dtype}`);
    tensors.set(e.name, tensor);
  }
  return { ok: true, tensors, metadata };
}

/** Checks one header entry; its byte range is checked against the data and its shape x dtype. */
function parseEntry(name: string, value: unknown, dataLength: number) {
  const bad = (why: string) => error('ERR_SAFETENSORS_BAD_ENTRY', `${name}: ${why}`);
  if (!isObject(value)) return bad('entry is not an object');
  const { dtype, shape, data_offsets: offsets } = value;
  const itemBytes = typeof dtype === 'string' ? DTYPE_BYTES[dtype] : undefined;
  if (typeof dtype !== 'string' || itemBytes === undefined) return bad(`unknown dtype ${String(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isCount))
    return bad('shape is not a list of non-negative integers');
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    return bad('data_offsets is not two non-negative integers');
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataLength) {
    return error(
      'ERR_SAFETENSORS_BAD_OFFSETS',
      `${name}: [${begin}, ${end}) outside ${dataLength} data bytes`,
    );
  }
  // Multiply with an early exit so a huge shape cannot overflow past the range it must fit;
  // any zero dimension makes the tensor empty however large the others are.
  let byteLength = shape.includes(0) ? 0 : itemBytes;
  for (const d of shape as number[]) {
    byteLength *= d;
    if (byteLength > dataLength) break;
  }
  if (byteLength !== end - begin) {
    return error('ERR_SAFETENSORS_BAD_OFFSETS', `${name}: [${shape}] ${dtype} is not ${end - begin} bytes`);
  }
  return { name, dtype, itemBytes, shape: shape as number[], begin, end };
}

/** Views a fresh copy of a tensor's bytes as its typed array; undefined for dtypes we do not read. */
function toTyped(dtype: string, shape: number[], raw: Uint8Array): DecodedTensor | undefined {
  const buffer = raw.buffer;
  switch (dtype) {
    case 'F64':
      return { dtype, shape, data: new Float64Array(buffer) };
    case 'F32':
      return { dtype, shape, data: new Float32Array(buffer) };
    case 'I32':
      return { dtype, shape, data: new Int32Array(buffer) };
    case 'U16':
      return { dtype, shape, data: new Uint16Array(buffer) };
    case 'U8':
      return { dtype, shape, data: raw };
    case 'F16':
      return { dtype, shape, data: Float32Array.from(new Uint16Array(buffer), halfToFloat) };
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift it back into place.
      const words = Uint32Array.from(new Uint16Array(buffer), (h) => h << 16);
      return { dtype, shape, data: new Float32Array(words.buffer) };
    }
    default:
      return undefined;
  }
}

/** IEEE 754 binary16 to a number: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (mantissa / 1024); // zero and subnormals
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Orders names by UTF-16 code units, as a plain `<` does, independent of locale. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function error(code: SafetensorsErrorCode, message: string): SafetensorsError {
  return { code, message };
}

function fail(code: SafetensorsErrorCode, message: string): { ok: false; error: SafetensorsError } {
  return { ok: false, error: error(code, message) };
}
