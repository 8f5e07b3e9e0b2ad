// A peer's own stochastic-rounding stream for its frames, from the run's seed and its public key:
// no two peers round alike (their rounding noise then averages out), and the relay, which
// redoes a round it checks (relay/rounds/work-check.ts), rounds as the peer did.
import { deriveSeed } from './random-k.ts';

/** A peer's stochastic-rounding stream from its public key, so no two peers share one. */
export function noiseStreamOf(seed: number, peerKey: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < peerKey.length; i++) h = Math.imul(h ^ peerKey.charCodeAt(i), 0x01000193) >>> 0;
  return deriveSeed(seed, h) & 0x7fffffff;
}
