// Unsigned LEB128 varints for u32 values (as in Protocol Buffers and WebAssembly): 7 bits per
// byte, low bits first, the high bit set on every byte but the last. Sorted index lists are
// sent as gaps, most of which fit one byte. Only the shortest encoding of a value is read: with
// overlong ones (0x80 0x00 for 0) a frame would have several encodings, and so several hashes,
// for one content.

/** At most 5 bytes encode a u32. */
export const MAX_VARINT_BYTES = 5;

/** Writes `value` (a u32) at `at`; returns the offset after it. `out` must have room. */
export function writeVarint(out: Uint8Array, at: number, value: number): number {
  let v = value >>> 0;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
  return at;
}

export function varintLength(value: number): number {
  let v = value >>> 0;
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

/**
 * The value at `at` and the offset after it, or null when the bytes end, overflow a u32 or are
 * overlong (a last byte of zero after the first: the value fits fewer bytes).
 */
export function readVarint(
  bytes: Uint8Array,
  at: number,
  end = bytes.length,
): { value: number; next: number } | null {
  let value = 0;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (at + i >= end) return null;
    const byte = bytes[at + i] as number;
    // The fifth byte may only hold the top 4 bits of a u32.
    if (i === MAX_VARINT_BYTES - 1 && byte > 0x0f) return null;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if (byte === 0 && i > 0) return null;
    if (byte < 0x80) return { value, next: at + i + 1 };
  }
  return null;
}
