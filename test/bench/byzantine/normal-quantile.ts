// Φ⁻¹, the standard normal quantile, for ALIE's z (Baruch, Baruch and Goldberg, NeurIPS 2019):
// Acklam's rational approximation, relative error below 1.2e-9 over (0, 1).

const A = [
  -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
  2.506628277459239,
];
const B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
const C = [
  -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
];
const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
const LOW = 0.02425;

export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`a probability in (0, 1), got ${p}`);
  if (p < LOW) return tail(p);
  if (p > 1 - LOW) return -tail(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    (((((((A[0] as number) * r + (A[1] as number)) * r + (A[2] as number)) * r + (A[3] as number)) * r +
      (A[4] as number)) *
      r +
      (A[5] as number)) *
      q) /
    ((((((B[0] as number) * r + (B[1] as number)) * r + (B[2] as number)) * r + (B[3] as number)) * r +
      (B[4] as number)) *
      r +
      1)
  );
}

function tail(p: number): number {
  const q = Math.sqrt(-2 * Math.log(p));
  return (
    ((((((C[0] as number) * q + (C[1] as number)) * q + (C[2] as number)) * q + (C[3] as number)) * q +
      (C[4] as number)) *
      q +
      (C[5] as number)) /
    (((((D[0] as number) * q + (D[1] as number)) * q + (D[2] as number)) * q + (D[3] as number)) * q + 1)
  );
}

/**
 * ALIE's z for n workers of which f are Byzantine: s = ⌊n/2 + 1⌋ − f honest workers must be
 * "won over", and z is as far as the attackers can go while s of the honest still lie further
 * from the mean: z = Φ⁻¹((n − s) / n).
 */
export function alieZ(n: number, f: number): number {
  const s = Math.floor(n / 2 + 1) - f;
  return normalQuantile((n - s) / n);
}
