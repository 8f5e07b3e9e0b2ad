// Random-k sparsification, CocktailSGD style: in round r every peer keeps the same random
// subset of parameter indices ("candidates"), chosen by the round's shared seed. The indices
// are regenerated from the seed on every side and never sent.
//
// The choice is a counter-based hash, not a stream generator: a GPU thread decides index i
// on its own (kernels/wgsl/compress_candidates.wgsl mirrors `randomKHash` word for word),
// and a decoder can regenerate the candidates of any parameter range without replaying a
// stream from index 0. Only 32-bit integer operations are used, which WGSL and JavaScript
// (Math.imul, >>>) both do exactly, so the browser, Node and the GPU agree bit for bit.
//
// Hash: MurmurHash3's 32-bit finaliser `fmix32` (Appleby, public domain), applied to the
// index times the golden-ratio constant, xor a finalised seed. fmix32 is a bijection with
// full avalanche, so neighbouring indices get unrelated words.

/** MurmurHash3's fmix32: a bijection on u32 with full avalanche. */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SEED_SALT = 0x68e31da4;
const GOLDEN = 0x9e3779b1;

/** The u32 word that decides whether parameter `index` is a candidate under `seed`. */
export function randomKHash(seed: number, index: number): number {
  return fmix32(Math.imul(index, GOLDEN) ^ fmix32(seed ^ SEED_SALT));
}

/** A seed for another purpose derived from `seed` (e.g. a peer's stochastic-rounding noise). */
export function deriveSeed(seed: number, stream: number): number {
  return fmix32(seed ^ fmix32(Math.imul(stream + 1, GOLDEN)));
}

/** A uniform float in [0, 1) from a hash word: its top 24 bits, exact in f32. */
export function unitFromHash(word: number): number {
  return (word >>> 8) / 16777216;
}

/**
 * The largest hash word that keeps an index: an index is a candidate when its hash is at
 * most this. `fraction` 1 keeps every index (2^32 - 1 admits every word); 0.1 keeps ~10%.
 */
export function keepMaxFor(fraction: number): number {
  if (!(fraction > 0 && fraction <= 1))
    throw new RangeError(`random-k fraction ${fraction} is not in (0, 1]`);
  return Math.min(0xffffffff, Math.max(0, Math.round(fraction * 2 ** 32) - 1));
}

/** Keeps every index: random-k switched off. */
export const KEEP_ALL = 0xffffffff;

export function isCandidate(seed: number, keepMax: number, index: number): boolean {
  return randomKHash(seed, index) <= keepMax;
}

/** How many of the indices [offset, offset + count) are candidates. */
export function countCandidates(seed: number, keepMax: number, offset: number, count: number): number {
  if (keepMax >= KEEP_ALL) return count;
  let n = 0;
  for (let i = offset; i < offset + count; i++) if (randomKHash(seed, i) <= keepMax) n++;
  return n;
}

/**
 * The candidates among [offset, offset + count), ascending (global indices). A caller that has
 * already counted them (countCandidates) passes the count, saving a pass over the hashes.
 */
export function randomKCandidates(
  seed: number,
  keepMax: number,
  offset: number,
  count: number,
  candidateCount = countCandidates(seed, keepMax, offset, count),
): Uint32Array {
  const out = new Uint32Array(candidateCount);
  if (keepMax >= KEEP_ALL) {
    for (let j = 0; j < count; j++) out[j] = offset + j;
    return out;
  }
  let n = 0;
  for (let i = offset; i < offset + count; i++) if (randomKHash(seed, i) <= keepMax) out[n++] = i;
  return out;
}
