// The attacks bench:byzantine plays. Attackers do not train: each round they read what the
// honest peers sent (every frame crosses the mesh in the clear) and craft their own from it,
// as frames in the run's exact format unless the attack is to break the format.

import type { Rng } from '../../../protocol/rng.ts';
import type { FrameExpectation } from '../../../protocol/round-update.ts';
import { denseValues, encodeDenseFp32, encodeInRunFormat } from './craft-frame.ts';
import { alieZ } from './normal-quantile.ts';

/** What every attacker sees of a round before it sends. */
export class RoundView {
  /** Each honest peer's values over the whole parameter vector, peer-id order. */
  readonly honest: readonly Float64Array[];
  /** Coordinate-wise mean and standard deviation of the honest values. */
  readonly mean: Float64Array;
  readonly std: Float64Array;

  constructor(
    readonly expected: FrameExpectation,
    /** The honest frames as sent, peer-id order. */
    readonly honestFrames: readonly Uint8Array[],
    /** Last round's honest frames and format, null in round 0. */
    readonly previous: { readonly frames: readonly Uint8Array[]; readonly expected: FrameExpectation } | null,
    /** n: every member of the round, attackers included. */
    readonly peers: number,
    /** f: the attackers among them. */
    readonly attackers: number,
  ) {
    const n = expected.totalFloats;
    this.honest = honestFrames.map((frame) => denseValues(frame, n));
    this.mean = new Float64Array(n);
    this.std = new Float64Array(n);
    const h = this.honest.length;
    for (const x of this.honest)
      for (let k = 0; k < n; k++) this.mean[k] = (this.mean[k] as number) + (x[k] as number) / h;
    for (const x of this.honest)
      for (let k = 0; k < n; k++) {
        const d = (x[k] as number) - (this.mean[k] as number);
        this.std[k] = (this.std[k] as number) + (d * d) / h;
      }
    for (let k = 0; k < n; k++) this.std[k] = Math.sqrt(this.std[k] as number);
  }

  /** The honest peer an attacker copies or imitates. */
  victim(attacker: number): number {
    return attacker % this.honest.length;
  }

  encode(values: ArrayLike<number>): Uint8Array {
    return encodeInRunFormat(values, this.expected);
  }
}

/** The relay's copy counts; the mesh copy is what the attacker shows the other peers. */
export interface CraftedFrames {
  readonly relay: Uint8Array;
  readonly mesh: Uint8Array;
}

export interface Attack {
  readonly name: string;
  /** After the round the attackers report a forged model hash (the relay ignores reports). */
  readonly forgesReports?: boolean;
  /**
   * The attackers upload the moment the round opens and claim 1e6 tokens/s: the relay measures
   * them as that fast. Shares are sized from measured speed, so this asks for the largest.
   */
  readonly uploadsAtOnce?: boolean;
  craft(view: RoundView, attacker: number, rng: Rng): CraftedFrames;
}

const same = (frame: Uint8Array): CraftedFrames => ({ relay: frame, mesh: frame });
const map = (x: Float64Array, f: (value: number, k: number) => number): Float64Array => x.map(f);
const noise = (view: RoundView, rng: Rng, times: number): Float64Array =>
  map(view.std, (s) => times * s * rng.nextNormal());
/** An unparseable message: what an attacker with nothing to replay sends. */
const NOTHING = new Uint8Array(0);

export const ATTACKS: readonly Attack[] = [
  { name: 'zero', craft: (view) => same(view.encode(new Float64Array(view.expected.totalFloats))) },
  { name: 'random', craft: (view, _, rng) => same(view.encode(noise(view, rng, 1))) },
  { name: 'copied', craft: (view, a) => same(view.honestFrames[view.victim(a)] as Uint8Array) },
  {
    name: 'copied + noise',
    craft: (view, a, rng) => {
      const victim = view.honest[view.victim(a)] as Float64Array;
      const n = noise(view, rng, 1);
      return same(view.encode(map(victim, (v, k) => v + (n[k] as number))));
    },
  },
  {
    // A frame names its round and seed, so last round's frame replayed as is is refused; the
    // attacker must re-encode last round's values on this round's candidates to be counted.
    name: 'stale (re-encoded)',
    craft: (view, a) => {
      if (!view.previous) return same(NOTHING);
      const frame = view.previous.frames[view.victim(a)] as Uint8Array;
      return same(view.encode(denseValues(frame, view.expected.totalFloats)));
    },
  },
  {
    name: 'stale (replayed as is)',
    craft: (view, a) => same((view.previous?.frames[view.victim(a)] as Uint8Array | undefined) ?? NOTHING),
  },
  ...[1, 20].map(
    (k): Attack => ({
      name: `sign-flip x${k}`,
      craft: (view, a) => same(view.encode(map(view.honest[view.victim(a)] as Float64Array, (v) => -k * v))),
    }),
  ),
  { name: 'scaled random x100', craft: (view, _, rng) => same(view.encode(noise(view, rng, 100))) },
  {
    // "A Little Is Enough": every attacker sends mean − z·std, z from n and f.
    name: 'ALIE',
    craft: (view) => {
      const z = alieZ(view.peers, view.attackers);
      return same(view.encode(map(view.mean, (m, k) => m - z * (view.std[k] as number))));
    },
  },
  ...[0.1, 100].map(
    (epsilon): Attack => ({
      // Inner-product manipulation (Xie, Koyejo and Gupta, UAI 2020): −ε × the honest mean.
      name: `IPM eps ${epsilon}`,
      craft: (view) => same(view.encode(map(view.mean, (m) => -epsilon * m))),
    }),
  ),
  {
    // The relay gets a sign-flipped ×20 frame, the peers an honest copy. The decision names the
    // hash of each counted frame, so every honest peer sees its mesh copy differ: with the
    // author's signature on both (protocol/swarm-signing.ts) that is proof, and the relay drops
    // the equivocator from the round.
    name: 'equivocation',
    craft: (view, a) => ({
      relay: view.encode(map(view.honest[view.victim(a)] as Float64Array, (v) => -20 * v)),
      mesh: view.honestFrames[view.victim(a)] as Uint8Array,
    }),
  },
  {
    // Honest-looking frames (copies), then a forged model hash from every attacker: the relay
    // commits what it computes itself, so the reports change nothing (the row equals "copied").
    name: 'forged hash reports',
    forgesReports: true,
    craft: (view, a) => same(view.honestFrames[view.victim(a)] as Uint8Array),
  },
  {
    // A free-rider that copies and asks for the largest share: on probation its share is the
    // median one, and it never leaves probation without passing a check.
    name: 'speed claim (copied, 1e6 tok/s)',
    uploadsAtOnce: true,
    craft: (view, a) => same(view.honestFrames[view.victim(a)] as Uint8Array),
  },
  {
    name: 'dense fp32 x20 (not the run format)',
    craft: (view) =>
      same(
        encodeDenseFp32(
          map(view.mean, (m) => -20 * m),
          view.expected,
        ),
      ),
  },
];

/** The attacks also run under the plain mean, for contrast. */
export const PLAIN_MEAN_CONTRAST = [
  'sign-flip x20',
  'scaled random x100',
  'ALIE',
  'IPM eps 0.1',
  'IPM eps 100',
];
