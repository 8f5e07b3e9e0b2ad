// The robust aggregate of a round's counted contributions (docs/ARCHITECTURE.md, "Untrusted
// volunteers"). A plain mean lets one peer move the model anywhere: a frame scaled ×1000 or
// sign-flipped ×20 is summed like any other. Here, in order:
//
//   1. weights: each contribution's token share, capped at the median share, so a peer that
//      was handed (or talked its way into) a large share weighs no more than a typical one;
//   2. norm bound: a contribution longer than `normBound` × the median norm is scaled down to
//      it, so no frame carries more than a typical frame's length;
//   3. CenteredClip (Karimireddy, He and Jaggi, ICML 2021; BTARD): from the coordinate-wise
//      median, `iterations` times  v ← v + Σ w_i · min(1, τ / ‖x_i − v‖) · (x_i − v),  with
//      τ = `clipRadius` × the median distance to v. A contribution far from the others pulls
//      the center by at most w_i τ; when every contribution lies within τ (a clean round) one
//      step lands exactly on the weighted mean, so honest rounds lose nothing.
//
// Every peer and the relay compute this with the same bits: contributions are taken in peer-id
// order, sums run in float64 in that order, and only +, −, ×, ÷ and √ are used (IEEE 754
// rounds each exactly; Math.pow or Math.exp would not be portable across engines). The result
// is rounded to fp32 once, at the end.

import { aggregate, type Contribution } from './aggregate.ts';

export interface AggregationSettings {
  /**
   * 'mean': the plain token-weighted mean (protocol/aggregate.ts), trusting every peer;
   * 'clipped-mean': steps 1 and 2 only; 'centered-clip': all three.
   */
  readonly rule: 'mean' | 'clipped-mean' | 'centered-clip';
  /** A contribution's norm is bounded by this many times the median norm. */
  readonly normBound: number;
  /** τ: this many times the median distance to the center. */
  readonly clipRadius: number;
  /** CenteredClip steps after the coordinate-wise median. */
  readonly iterations: number;
}

export const DEFAULT_AGGREGATION: AggregationSettings = {
  rule: 'centered-clip',
  normBound: 2,
  clipRadius: 2,
  iterations: 3,
};

/** What one robust aggregation did, for the relay's log and the examination of a bad round. */
export interface AggregationReport {
  /** Per contribution in peer-id order: the factor its norm bound scaled it by (1: untouched). */
  readonly normScale: ReadonlyMap<string, number>;
  /** Per contribution: the clip factor of the last CenteredClip step (1: within τ). */
  readonly clipScale: ReadonlyMap<string, number>;
}

/** Σ over n parameters as above; `contributions` in any order. Never throws on honest shapes. */
export function robustAggregate(
  n: number,
  contributions: readonly Contribution[],
  settings: AggregationSettings,
): { update: Float32Array; report: AggregationReport } {
  const ordered = [...contributions].sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0));
  const p = ordered.length;
  const update = new Float32Array(n);
  const normScale = new Map<string, number>();
  const clipScale = new Map<string, number>();
  if (p === 0) return { update, report: { normScale, clipScale } };
  for (const c of ordered) checkShape(n, c);

  // 1. Weights: token shares capped at the median share.
  const medianTokens = lowerMedian(ordered.map((c) => c.tokens));
  const capped = ordered.map((c) => Math.max(0, Math.min(c.tokens, medianTokens)));
  const total = capped.reduce((s, t) => s + t, 0);
  const weights = capped.map((t) => (total > 0 ? t / total : 1 / p));

  // 2. Norm bound: scale factors, applied as values are read.
  const norms = ordered.map((c) => Math.sqrt(sumSquares(c.values)));
  const bound = settings.normBound * lowerMedian(norms);
  const scales = norms.map((norm) => (norm > bound && norm > 0 ? bound / norm : 1));
  for (const [i, c] of ordered.entries()) normScale.set(c.peer, scales[i] as number);

  if (settings.rule === 'mean') {
    update.set(aggregate(n, ordered));
    return { update, report: { normScale, clipScale } };
  }
  if (settings.rule === 'clipped-mean' || p === 1) {
    const sum = new Float64Array(n);
    for (const [i, c] of ordered.entries()) addScaled(sum, c, (weights[i] as number) * (scales[i] as number));
    update.set(sum);
    return { update, report: { normScale, clipScale } };
  }

  // 3. CenteredClip from the coordinate-wise median. Dense per contribution: a round holds at
  // most maxGroupSize contributions, so this is at most 64 × n floats (fp32: values are fp32
  // already, and the scaled copy is rounded the same way everywhere).
  const dense = ordered.map((c, i) => {
    const x = new Float32Array(n);
    const s = scales[i] as number;
    for (let j = 0; j < c.indices.length; j++) x[c.indices[j] as number] = (c.values[j] as number) * s;
    return x;
  });
  const center = coordinateMedian(dense, n);
  const distances = new Float64Array(p);
  for (let step = 0; step < settings.iterations; step++) {
    for (let i = 0; i < p; i++) distances[i] = Math.sqrt(squaredDistance(dense[i] as Float32Array, center));
    const tau = settings.clipRadius * lowerMedian([...distances]);
    const shift = new Float64Array(n);
    for (let i = 0; i < p; i++) {
      const d = distances[i] as number;
      const clip = d > tau ? (d > 0 ? tau / d : 0) : 1;
      clipScale.set((ordered[i] as Contribution).peer, clip);
      const factor = (weights[i] as number) * clip;
      if (factor === 0) continue;
      const x = dense[i] as Float32Array;
      for (let k = 0; k < n; k++)
        shift[k] = (shift[k] as number) + factor * ((x[k] as number) - (center[k] as number));
    }
    for (let k = 0; k < n; k++) center[k] = (center[k] as number) + (shift[k] as number);
  }
  update.set(center);
  return { update, report: { normScale, clipScale } };
}

function checkShape(n: number, { peer, indices, values }: Contribution): void {
  if (indices.length !== values.length)
    throw new RangeError(`${peer}: ${indices.length} indices but ${values.length} values`);
  for (let j = 0; j < indices.length; j++)
    if ((indices[j] as number) >= n)
      throw new RangeError(`${peer}: index ${indices[j]} is outside ${n} parameters`);
}

function addScaled(sum: Float64Array, { indices, values }: Contribution, factor: number): void {
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j] as number;
    sum[i] = (sum[i] as number) + factor * (values[j] as number);
  }
}

function sumSquares(values: Float32Array): number {
  let s = 0;
  for (let j = 0; j < values.length; j++) s += (values[j] as number) * (values[j] as number);
  return s;
}

function squaredDistance(x: Float32Array, center: Float64Array): number {
  let s = 0;
  for (let k = 0; k < x.length; k++) {
    const d = (x[k] as number) - (center[k] as number);
    s += d * d;
  }
  return s;
}

/** The lower median: an element of the list, so no averaging and no rounding question. */
export function lowerMedian(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

function coordinateMedian(dense: readonly Float32Array[], n: number): Float64Array {
  const center = new Float64Array(n);
  const column = new Float64Array(dense.length);
  const mid = Math.floor((dense.length - 1) / 2);
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < dense.length; i++) column[i] = (dense[i] as Float32Array)[k] as number;
    column.sort();
    center[k] = column[mid] as number;
  }
  return center;
}

/** The plain mean, trusting every peer: the baseline the robust rules are measured against. */
export const PLAIN_MEAN: AggregationSettings = { rule: 'mean', normBound: 1, clipRadius: 1, iterations: 0 };
