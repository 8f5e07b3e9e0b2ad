// The robust aggregate of a round's counted contributions (docs/ARCHITECTURE.md, "Untrusted
// volunteers"). A plain mean lets one peer move the model anywhere: a frame scaled ×1000 or
// sign-flipped ×20 is summed like any other. Here, in order:
//
//   1. weights: each contribution's token share, capped at the median share, so a peer that
//      was handed (or talked its way into) a large share weighs no more than a typical one;
//   2. norm bound: a contribution longer than `normBound` × the median norm is scaled down to
//      it, so no frame carries more than a typical frame's length;
//   3. alignment filter: a contribution whose cosine with the coordinate-wise median is below
//      `minAlignment` × the median cosine is left out, and the others' weights renormalized.
//      Compressed pseudo-gradients are noisy (1 bit per value): one peer's distance to the
//      honest mean is larger than the mean itself, so a frame pointing away from the mean
//      (sign-flipped, inner-product manipulation) or nowhere (zero, random) lies within the
//      honest spread and CenteredClip alone lets it pull by w·τ, as much as the signal. Its
//      direction gives it away: honest frames agree with the median's direction about equally.
//      (FLTrust, Cao et al., NDSS 2021, weighs by the cosine with a trusted update; the
//      coordinate-wise median stands in for that update here, robust while attackers are a
//      minority.) 0 turns the filter off;
//   4. CenteredClip (Karimireddy, He and Jaggi, ICML 2021; BTARD): from the coordinate-wise
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
   * 'clipped-mean': steps 1 to 3 then the weighted mean; 'centered-clip': all four.
   */
  readonly rule: 'mean' | 'clipped-mean' | 'centered-clip';
  /** A contribution's norm is bounded by this many times the median norm. */
  readonly normBound: number;
  /** τ: this many times the median distance to the center. */
  readonly clipRadius: number;
  /** CenteredClip steps after the coordinate-wise median. */
  readonly iterations: number;
  /** Left out below this fraction of the median cosine with the coordinate-wise median; 0: off. */
  readonly minAlignment: number;
}

export const DEFAULT_AGGREGATION: AggregationSettings = {
  rule: 'centered-clip',
  normBound: 2,
  clipRadius: 2,
  iterations: 3,
  minAlignment: 0.5,
};

/** What one robust aggregation did, for the relay's log and the examination of a bad round. */
export interface AggregationReport {
  /** Per contribution in peer-id order: the factor its norm bound scaled it by (1: untouched). */
  readonly normScale: ReadonlyMap<string, number>;
  /** Per contribution: the clip factor of the last CenteredClip step (1: within τ). */
  readonly clipScale: ReadonlyMap<string, number>;
  /** Per contribution: its cosine with the coordinate-wise median (when the filter is on). */
  readonly alignment: ReadonlyMap<string, number>;
  /** Contributions the alignment filter left out, in peer-id order. */
  readonly leftOut: readonly string[];
}

/**
 * Σ over n parameters as above; `contributions` in any order, one per peer. Throws a RangeError
 * on a shape no decoder gives (indices not strictly ascending or out of range, a value that is
 * not finite, a peer twice): the caller decodes frames first and refuses those.
 */
export function robustAggregate(
  n: number,
  contributions: readonly Contribution[],
  settings: AggregationSettings,
): { update: Float32Array; report: AggregationReport } {
  const ordered = [...contributions].sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0));
  const update = new Float32Array(n);
  const normScale = new Map<string, number>();
  const clipScale = new Map<string, number>();
  const alignment = new Map<string, number>();
  const leftOut: string[] = [];
  const report = { normScale, clipScale, alignment, leftOut };
  for (const [i, c] of ordered.entries()) {
    checkShape(n, c);
    if (i > 0 && (ordered[i - 1] as Contribution).peer === c.peer)
      throw new RangeError(`${c.peer} contributes twice`);
  }
  if (ordered.length === 0) return { update, report };
  if (settings.rule === 'mean') {
    update.set(aggregate(n, ordered));
    return { update, report };
  }

  // 1. Weights: token shares capped at the median share (normalized below, over what is kept).
  const medianTokens = lowerMedian(ordered.map((c) => c.tokens));
  let capped = ordered.map((c) => Math.max(0, Math.min(c.tokens, medianTokens)));

  // 2. Norm bound: every contribution dense and scaled down to the bound (fp32: values are fp32
  // already, and the scaled copy is rounded the same way everywhere). When every contribution
  // sends the same indices (the round's random-k candidates, every one of them: the run's
  // default), "dense" is over those indices only and an unscaled contribution is its own values:
  // the coordinates nobody sends are zero for everyone and change no median, norm or sum, so
  // the result is the same bits, in a fraction of the memory a round of a thousand members needs.
  const norms = ordered.map((c) => Math.sqrt(sumSquares(c.values)));
  const bound = settings.normBound * lowerMedian(norms);
  const shared = sharedIndices(ordered);
  const m = shared ? shared.length : n;
  let dense = ordered.map((c, i) => {
    const norm = norms[i] as number;
    const scale = norm > bound && norm > 0 ? bound / norm : 1;
    normScale.set(c.peer, scale);
    if (shared && scale === 1) return c.values;
    const x = new Float32Array(m);
    if (shared) for (let j = 0; j < m; j++) x[j] = (c.values[j] as number) * scale;
    else
      for (let j = 0; j < c.indices.length; j++) x[c.indices[j] as number] = (c.values[j] as number) * scale;
    return x;
  });
  let peers = ordered.map((c) => c.peer);

  // 3. Alignment filter against the coordinate-wise median.
  let center = coordinateMedian(dense, m);
  if (settings.minAlignment > 0 && ordered.length > 2) {
    const centerNorm = Math.sqrt(sumSquares(center));
    const cosines = dense.map((x) => {
      const norm = Math.sqrt(sumSquares(x));
      return norm > 0 && centerNorm > 0 ? dot(x, center) / (norm * centerNorm) : 0;
    });
    for (const [i, peer] of peers.entries()) alignment.set(peer, cosines[i] as number);
    const floor = settings.minAlignment * lowerMedian(cosines);
    // Without a common direction (median cosine ≤ 0) there is nothing to filter against.
    if (floor > 0) {
      const keep = cosines.map((cosine) => cosine >= floor);
      for (const [i, peer] of peers.entries()) if (!keep[i]) leftOut.push(peer);
      peers = peers.filter((_, i) => keep[i]);
      dense = dense.filter((_, i) => keep[i]);
      capped = capped.filter((_, i) => keep[i]);
      if (leftOut.length > 0) center = coordinateMedian(dense, m);
    }
  }
  const total = capped.reduce((s, t) => s + t, 0);
  const weights = capped.map((t) => (total > 0 ? t / total : 1 / capped.length));

  if (settings.rule === 'clipped-mean' || dense.length === 1) {
    const sum = new Float64Array(m);
    for (const [i, x] of dense.entries()) {
      const w = weights[i] as number;
      for (let k = 0; k < m; k++) sum[k] = (sum[k] as number) + w * (x[k] as number);
    }
    scatter(update, sum, shared);
    return { update, report };
  }

  // 4. CenteredClip from the coordinate-wise median.
  const p = dense.length;
  const distances = new Float64Array(p);
  for (let step = 0; step < settings.iterations; step++) {
    for (let i = 0; i < p; i++) distances[i] = Math.sqrt(squaredDistance(dense[i] as Float32Array, center));
    const tau = settings.clipRadius * lowerMedian([...distances]);
    const shift = new Float64Array(m);
    for (let i = 0; i < p; i++) {
      const d = distances[i] as number;
      const clip = d > tau ? (d > 0 ? tau / d : 0) : 1;
      clipScale.set(peers[i] as string, clip);
      const factor = (weights[i] as number) * clip;
      if (factor === 0) continue;
      const x = dense[i] as Float32Array;
      for (let k = 0; k < m; k++)
        shift[k] = (shift[k] as number) + factor * ((x[k] as number) - (center[k] as number));
    }
    for (let k = 0; k < m; k++) center[k] = (center[k] as number) + (shift[k] as number);
  }
  scatter(update, center, shared);
  return { update, report };
}

/** The index list every contribution shares, or null when any differs. */
function sharedIndices(contributions: readonly Contribution[]): Uint32Array | null {
  const first = (contributions[0] as Contribution).indices;
  for (const c of contributions.slice(1)) {
    if (c.indices === first) continue;
    if (c.indices.length !== first.length) return null;
    for (let j = 0; j < first.length; j++) if (c.indices[j] !== first[j]) return null;
  }
  return first;
}

/** `values` (over `shared`, or over every parameter when null) into the fp32 update. */
function scatter(update: Float32Array, values: Float64Array, shared: Uint32Array | null): void {
  if (!shared) {
    update.set(values);
    return;
  }
  for (let j = 0; j < shared.length; j++) update[shared[j] as number] = values[j] as number;
}

function checkShape(n: number, { peer, indices, values }: Contribution): void {
  if (indices.length !== values.length)
    throw new RangeError(`${peer}: ${indices.length} indices but ${values.length} values`);
  let previous = -1;
  for (let j = 0; j < indices.length; j++) {
    const index = indices[j] as number;
    if (index >= n) throw new RangeError(`${peer}: index ${index} is outside ${n} parameters`);
    // A repeated index would count twice in the norm and once in the dense copy.
    if (index <= previous) throw new RangeError(`${peer}: indices do not ascend at ${j}`);
    previous = index;
    // One NaN would make every norm and median below meaningless (and NaN sorts anywhere).
    if (!Number.isFinite(values[j] as number)) throw new RangeError(`${peer}: value ${j} is not finite`);
  }
}

function dot(x: Float32Array, y: Float64Array): number {
  let s = 0;
  for (let k = 0; k < x.length; k++) s += (x[k] as number) * (y[k] as number);
  return s;
}

function sumSquares(values: Float32Array | Float64Array): number {
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
    center[k] = selectNth(column, mid);
  }
  return center;
}

/**
 * The element a sort would put at `nth` (Hoare's quickselect, in place): linear in the column on
 * average where a sort is n log n, which is what keeps the relay's aggregate linear in the number
 * of volunteers. Ties order as the typed array's sort does (−0 before +0), so the value is the
 * same bits a sort gives. The column holds finite values only (decoders refuse the rest).
 */
export function selectNth(column: Float64Array, nth: number): number {
  let lo = 0;
  let hi = column.length - 1;
  while (hi > lo) {
    // The median of three as the pivot keeps sorted and reversed columns linear too.
    const m = (lo + hi) >> 1;
    if (before(column[m] as number, column[lo] as number)) swap(column, m, lo);
    if (before(column[hi] as number, column[lo] as number)) swap(column, hi, lo);
    if (before(column[hi] as number, column[m] as number)) swap(column, hi, m);
    const pivot = column[m] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (before(column[i] as number, pivot)) i++;
      while (before(pivot, column[j] as number)) j--;
      if (i <= j) {
        swap(column, i, j);
        i++;
        j--;
      }
    }
    if (nth <= j) hi = j;
    else if (nth >= i) lo = i;
    else break;
  }
  return column[nth] as number;
}

/** a sorts before b: by value, and −0 before +0. */
function before(a: number, b: number): boolean {
  return a < b || (a === 0 && b === 0 && Object.is(a, -0) && !Object.is(b, -0));
}

function swap(column: Float64Array, i: number, j: number): void {
  const t = column[i] as number;
  column[i] = column[j] as number;
  column[j] = t;
}

/** The plain mean, trusting every peer: the baseline the robust rules are measured against. */
export const PLAIN_MEAN: AggregationSettings = {
  rule: 'mean',
  normBound: 1,
  clipRadius: 1,
  iterations: 0,
  minAlignment: 0,
};
