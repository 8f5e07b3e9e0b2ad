// base64url without padding (RFC 4648 §5), the encoding of every key and signature that
// crosses the wire. Hand-written because protocol/ has neither Node's Buffer nor the DOM's
// atob, and because decoding is strict: one text for one byte string, so a signature cannot
// be altered in its unused trailing bits and still compare equal (RFC 4648 §3.5).

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Character code → 6-bit value, -1 for characters outside the alphabet. */
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

/** Longest text decodeBase64url looks at: far above any key or signature, bounds allocation. */
export const MAX_BASE64URL_LENGTH = 1 << 20;

export function encodeBase64url(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i] as number;
    const b1 = bytes[i + 1] ?? 0;
    const b2 = bytes[i + 2] ?? 0;
    const n = (b0 << 16) | (b1 << 8) | b2;
    text += ALPHABET[(n >>> 18) & 63];
    text += ALPHABET[(n >>> 12) & 63];
    if (i + 1 < bytes.length) text += ALPHABET[(n >>> 6) & 63];
    if (i + 2 < bytes.length) text += ALPHABET[n & 63];
  }
  return text;
}

/**
 * The bytes of a base64url text, or null for anything else: a non-string, padding, a
 * character outside the alphabet, an impossible length, non-zero unused bits, or a text
 * longer than MAX_BASE64URL_LENGTH. Never throws.
 */
export function decodeBase64url(text: unknown): Uint8Array<ArrayBuffer> | null {
  if (typeof text !== 'string' || text.length > MAX_BASE64URL_LENGTH) return null;
  const tail = text.length % 4;
  // One character carries 6 bits, less than a byte: no encoder ever ends with one.
  if (tail === 1) return null;
  const bytes = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let out = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? (VALUES[code] as number) : -1;
    if (value < 0) return null;
    acc = ((acc << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[out++] = (acc >>> bits) & 0xff;
    }
  }
  // Leftover bits are padding and must be zero, or two texts would decode to one value.
  if ((acc & ((1 << bits) - 1)) !== 0) return null;
  return bytes;
}
