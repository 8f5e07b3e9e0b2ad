// Comparing a GPU result with its CPU reference: the error is reported relative to the
// largest reference magnitude (so near-zero entries do not blow up a per-element ratio),
// printed, and asserted.
import { expect } from 'vitest';

export interface Difference {
  maxDiff: number;
  maxRef: number;
  relative: number;
  /** Index of the worst element. */
  at: number;
}

export function difference(got: ArrayLike<number>, want: ArrayLike<number>): Difference {
  expect(got.length).toBe(want.length);
  let maxDiff = 0;
  let maxRef = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i] as number;
    const w = want[i] as number;
    const d = Math.abs(g - w);
    if (!(d <= maxDiff)) {
      // NaN lands here too, and is then reported as the worst element.
      maxDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      at = i;
    }
    maxRef = Math.max(maxRef, Math.abs(w));
  }
  return { maxDiff, maxRef, relative: maxDiff / Math.max(maxRef, 1e-30), at };
}

/** Prints `label maxDiff=... rel=...` and asserts the relative error is within `tolerance`. */
export function expectClose(
  label: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tolerance = 1e-4,
) {
  const d = difference(got, want);
  console.log(
    `${label}: maxDiff=${d.maxDiff.toExponential(3)} rel=${d.relative.toExponential(3)} (max |ref| ${d.maxRef.toExponential(3)})`,
  );
  expect(d.relative, `${label}: worst at ${d.at}`).toBeLessThanOrEqual(tolerance);
  return d;
}

/** Bit-for-bit equality, for determinism checks. */
export function expectBitIdentical(label: string, a: Float32Array, b: Float32Array) {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let mismatches = 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) mismatches++;
  expect(mismatches, `${label}: ${mismatches} elements differ between identical runs`).toBe(0);
}

/** Uniform floats in [-scale, scale) from a small deterministic generator (tests only). */
export function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // xorshift32: plenty for test inputs.
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
