// SHA-256 (FIPS 180-4) computed synchronously, for the identity stamp (identity-stamp.ts): the
// relay checks one in microseconds with no await, and a volunteer's search hashes millions of
// candidates that share a prefix, so the prefix's full blocks are compressed once (a midstate)
// and each candidate costs only its last block or two. WebCrypto's digest is async per call and
// has no midstate, which makes it tens of times slower for this; every other hash in the
// protocol stays on WebCrypto (sha256.ts).

const BLOCK_BYTES = 64;
const LENGTH_BYTES = 8; // the message length in bits, big-endian, closes the padding

// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K = Uint32Array.of(
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
);
// §5.3.3: the first 32 bits of the fractional parts of the square roots of the first 8 primes.
const INITIAL = Uint32Array.of(
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
);

/** The hash state after some whole blocks: what a message's remaining bytes continue from. */
export interface Sha256Midstate {
  readonly state: Uint32Array; // 8 words
  readonly bytesHashed: number; // a multiple of 64
}

const schedule = new Uint32Array(64);

/** Folds the 64-byte block at `bytes[offset…]` into `state` (§6.2.2). */
function compress(state: Uint32Array, bytes: Uint8Array, offset: number): void {
  const w = schedule;
  for (let t = 0; t < 16; t++) {
    const i = offset + t * 4;
    w[t] =
      ((bytes[i] as number) << 24) |
      ((bytes[i + 1] as number) << 16) |
      ((bytes[i + 2] as number) << 8) |
      (bytes[i + 3] as number);
  }
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15] as number;
    const y = w[t - 2] as number;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = ((w[t - 16] as number) + s0 + (w[t - 7] as number) + s1) | 0;
  }
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  let e = state[4] as number;
  let f = state[5] as number;
  let g = state[6] as number;
  let h = state[7] as number;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + (K[t] as number) + (w[t] as number)) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = ((state[0] as number) + a) | 0;
  state[1] = ((state[1] as number) + b) | 0;
  state[2] = ((state[2] as number) + c) | 0;
  state[3] = ((state[3] as number) + d) | 0;
  state[4] = ((state[4] as number) + e) | 0;
  state[5] = ((state[5] as number) + f) | 0;
  state[6] = ((state[6] as number) + g) | 0;
  state[7] = ((state[7] as number) + h) | 0;
}

/** The state after every whole block of `prefix`; the bytes past the last whole block are not in it. */
export function sha256Midstate(prefix: Uint8Array): Sha256Midstate {
  const state = INITIAL.slice();
  const whole = prefix.length - (prefix.length % BLOCK_BYTES);
  for (let offset = 0; offset < whole; offset += BLOCK_BYTES) compress(state, prefix, offset);
  return { state, bytesHashed: whole };
}

/** Room for the longest tail: under one block of prefix, a counter and the padding fit in two. */
const TAIL_CAPACITY = 2 * BLOCK_BYTES;
const tailBuffer = new Uint8Array(TAIL_CAPACITY);

/**
 * SHA-256 of the message whose first `from.bytesHashed` bytes `from` holds and whose remaining
 * bytes are `tail` (at most 2 blocks). Writes the 8 digest words into `out`, big-endian
 * numbers, and returns it.
 */
export function sha256Finish(from: Sha256Midstate, tail: Uint8Array, out = new Uint32Array(8)): Uint32Array {
  const padded = Math.ceil((tail.length + 1 + LENGTH_BYTES) / BLOCK_BYTES) * BLOCK_BYTES;
  if (padded > TAIL_CAPACITY)
    throw new RangeError(`a tail of ${tail.length} bytes is longer than sha256Finish takes`);
  const buffer = tailBuffer;
  buffer.set(tail);
  buffer.fill(0, tail.length, padded);
  buffer[tail.length] = 0x80;
  const bits = (from.bytesHashed + tail.length) * 8;
  // Messages here are far below 2^32 bytes; the high word of the bit length is bits / 2^32.
  const view = new DataView(buffer.buffer, buffer.byteOffset, padded);
  view.setUint32(padded - LENGTH_BYTES, Math.floor(bits / 0x1_0000_0000));
  view.setUint32(padded - LENGTH_BYTES + 4, bits >>> 0);
  out.set(from.state);
  for (let offset = 0; offset < padded; offset += BLOCK_BYTES) compress(out, buffer, offset);
  return out;
}

/** SHA-256 of `bytes` as 32 bytes. */
export function sha256Sync(bytes: Uint8Array): Uint8Array {
  const mid = sha256Midstate(bytes);
  const words = sha256Finish(mid, bytes.subarray(mid.bytesHashed));
  const digest = new Uint8Array(32);
  const view = new DataView(digest.buffer);
  for (let i = 0; i < 8; i++) view.setUint32(i * 4, words[i] as number);
  return digest;
}
