// Seeded pseudo-random numbers for everything that must replay bit for bit: data window
// sampling, model initialisation, random-k compression indices regenerated from a round
// seed. Math.random cannot be seeded, and JavaScript engines differ in its algorithm, so a
// browser peer and a Node peer must share this generator instead.
//
// Generator: xoshiro128** 1.1 (Blackman & Vigna, "Scrambled linear pseudorandom number
// generators", ACM TOMS 2021; reference C at https://prng.di.unimi.it/xoshiro128starstar.c).
// 128 bits of state, period 2^128 - 1, passes BigCrush and PractRand, and needs only 32-bit
// integer operations, which JavaScript does exactly with `| 0`, `>>>` and Math.imul.
// Seeding: SplitMix32 expands the seed into the four state words, as the authors advise
// ("seed with the output of a splitmix generator"), so nearby seeds give unrelated streams.

/** A seeded random source; callers take this interface so tests can pass their own. */
export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextU32(): number;
  /** Uniform double in [0, 1) with 53 random bits (every representable step of 2^-53). */
  nextFloat(): number;
  /** Uniform integer in [0, n) without modulo bias; n an integer in [1, 2^53]. */
  nextBelow(n: number): number;
  /** Standard normal N(0, 1) by the Box-Muller transform. */
  nextNormal(): number;
  /** Everything needed to resume the stream exactly, e.g. from a training checkpoint. */
  snapshot(): RngState;
}

export interface RngState {
  /** The four xoshiro128** state words, each a u32. */
  readonly words: readonly [number, number, number, number];
  /** The second Box-Muller normal, not yet handed out (null when none is cached). */
  readonly spareNormal: number | null;
}

const TWO_POW_32 = 2 ** 32;
const TWO_POW_53 = 2 ** 53;

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** SplitMix32 (Steele, Lea & Flood's SplitMix with 32-bit Murmur3 finaliser constants). */
function splitMix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

class Xoshiro128StarStar implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null;

  constructor(state: RngState) {
    [this.s0, this.s1, this.s2, this.s3] = state.words;
    this.spare = state.spareNormal;
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  nextFloat(): number {
    // genrand_res53 from the Mersenne Twister reference: 27 + 26 bits make a 53-bit mantissa.
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  nextBelow(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_53) {
      throw new RangeError(`nextBelow needs an integer in [1, 2^53], got ${n}`);
    }
    // Rejection sampling: draw uniformly from the largest multiple of n that fits in the
    // draw's range, so every residue is equally likely (no modulo bias).
    if (n <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      for (;;) {
        const x = this.nextU32();
        if (x < limit) return x % n;
      }
    }
    const limit = TWO_POW_53 - (TWO_POW_53 % n);
    for (;;) {
      const x = this.nextFloat() * TWO_POW_53; // an exact integer in [0, 2^53)
      if (x < limit) return x % n;
    }
  }

  nextNormal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    // 1 - u lies in (0, 1], so the logarithm is finite; each call yields two independent
    // normals, the second cached for the next call.
    const u1 = 1 - this.nextFloat();
    const u2 = this.nextFloat();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  snapshot(): RngState {
    return { words: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0], spareNormal: this.spare };
  }
}

/**
 * A generator seeded from a non-negative integer up to 2^53 (a u32 round seed, a step
 * number, a u53 hash prefix). Both halves of the seed feed SplitMix32, so seeds that differ
 * only above bit 31 still give different streams.
 */
export function createRng(seed: number): Rng {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  }
  const mixer = { s: (seed % TWO_POW_32) | 0 };
  mixer.s = (mixer.s ^ splitMix32({ s: Math.floor(seed / TWO_POW_32) | 0 })) | 0;
  const words: [number, number, number, number] = [
    splitMix32(mixer),
    splitMix32(mixer),
    splitMix32(mixer),
    splitMix32(mixer),
  ];
  // The all-zero state is xoshiro's one fixed point; SplitMix32 is a bijection per step, so
  // four zeros in a row are not impossible in principle: guard anyway.
  if (words.every((w) => w === 0)) words[0] = 1;
  return new Xoshiro128StarStar({ words, spareNormal: null });
}

/** Resumes a stream from `snapshot()`. Throws RangeError on a state that cannot be one. */
export function restoreRng(state: RngState): Rng {
  const valid =
    state.words.length === 4 && state.words.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32);
  if (!valid || state.words.every((w) => w === 0)) {
    throw new RangeError('RNG state needs four u32 words, not all zero');
  }
  if (state.spareNormal !== null && !Number.isFinite(state.spareNormal)) {
    throw new RangeError('RNG spare normal must be finite or null');
  }
  return new Xoshiro128StarStar({ words: [...state.words], spareNormal: state.spareNormal });
}
