// The delta bases of one volunteer's stage over the network (AQ-SGD; activation-cache.ts holds
// the rules that keep a sender's and a receiver's copies bit-identical). Two things differ from
// two stages wired together in one process:
//
// - Routes change. The relay may send a sample through another replica next time (a replica
//   left, another joined), and that replica never saw the sample. So each peer keeps one
//   ActivationCache per peer at the other end of its links: a frame to or from peer p is taken
//   against, and filed under, what crossed between this peer and p alone. A sample routed to a
//   replica it never met goes as a full frame, and its base with its old replica stays for when
//   the route comes back.
// - Steps abort. A frame sent in an attempt the relay aborts may or may not have been decoded by
//   its receiver, so a base taken from it is one the receiver may lack. So nothing is filed when
//   a frame crosses: both ends hold it as pending and file it when the relay commits the step,
//   which it does only once every microbatch went up and came down, i.e. every frame of the step
//   was decoded where it went. Both ends then file the same frames, link by link in microbatch
//   order, so their caches evict alike; a sender therefore uses a base only when its receiver
//   decoded that very tensor in a committed step.
//
// What is left is a receiver that lost its caches while keeping its key (a page reloaded, a
// volunteer back after a drop, seated again before any step went on without it): its senders
// still hold bases with it. It refuses their deltas (ERR_FRAME_NO_CACHE), the step runs into its
// deadline, and an aborted step drops every base on every peer (rollback), so the step's next
// attempt goes in full frames: one deadline per such loss, never a wrong activation.
//
// Bounds: each link (peer, boundary, direction) holds at most maxBytesPerLink bytes, and at each
// commit the caches of peers this step exchanged no frame with are dropped, so a volunteer holds
// bases for at most the 2·M peers a step can route it to (M ≤ 32 microbatches), never for every
// peer it ever met. Both ends of a link see the same steps, so they drop the same caches.
import type { ActivationCodec, ActivationFrame } from '../../protocol/activation-frame.ts';
import { codecBits, dequantizeActivations, isDeltaCodec } from '../../protocol/activation-frame.ts';
import type { DecodeResult } from '../../protocol/frame-errors.ts';
import type { CodeBits } from '../../protocol/signed-codes.ts';
import { ActivationCache, type ActivationKey, type CodecChoice } from './activation-cache.ts';

/**
 * Bytes of bases one link keeps: 128 microbatches of the default model's (4, 64, 128) f32
 * activation. Both ends use this constant, so both evict at the same point.
 */
export const ROUTE_CACHE_BYTES_PER_LINK = 16 * 2 ** 20;

/** What a peer with no bases yet answers: always the plain codec. */
const NO_BASES = new ActivationCache(0);

interface Pending {
  readonly peer: string;
  readonly key: ActivationKey;
  readonly microbatch: number;
  readonly values: Float32Array;
}

export class RouteCache {
  private readonly peers = new Map<string, ActivationCache>();
  private pending: Pending[] = [];
  /**
   * Peers this step exchanged a delta-codec frame with, delta or first crossing: a frame goes
   * both to its sender's and its receiver's set, so the two ends agree on who was a partner.
   */
  private partners = new Set<string>();

  constructor(readonly maxBytesPerLink = ROUTE_CACHE_BYTES_PER_LINK) {
    if (!(Number.isFinite(maxBytesPerLink) && maxBytesPerLink >= 0))
      throw new RangeError(`route cache: byte cap ${maxBytesPerLink} is not a non-negative number`);
  }

  /** Peers this cache holds bases with. */
  get peerCount(): number {
    return this.peers.size;
  }

  /** Bytes of committed bases over every peer. */
  get bytes(): number {
    let total = 0;
    for (const cache of this.peers.values()) total += cache.bytes;
    return total;
  }

  /** The committed base for `key` on the link with `peer`, if any. */
  peek(peer: string, key: ActivationKey): Float32Array | undefined {
    return this.peers.get(peer)?.peek(key);
  }

  /**
   * The sender's choice for a tensor of `length` values going to `peer` under the delta codec
   * `codec`: the delta against the base that peer holds, or the same width plain.
   */
  codecFor(peer: string, key: ActivationKey, length: number, codec: ActivationCodec): CodecChoice {
    if (!isDeltaCodec(codec)) throw new RangeError(`route cache: ${codec} is not a delta codec`);
    return (this.peers.get(peer) ?? NO_BASES).codecFor(key, length, codecBits(codec) as CodeBits);
  }

  /**
   * Decodes `frame` (the sender: the one it sent to `peer`; the receiver: the one `peer` sent)
   * against the committed base of its key, and holds the result until commit(). Never throws:
   * a delta whose base this peer lacks is ERR_FRAME_NO_CACHE.
   */
  accept(peer: string, frame: ActivationFrame): DecodeResult<Float32Array> {
    const key = { boundary: frame.boundary, direction: frame.direction, sampleId: frame.sampleIdBase };
    const base = isDeltaCodec(frame.codec) ? this.peek(peer, key) : undefined;
    const decoded = dequantizeActivations(frame, base);
    if (!decoded.ok) return decoded;
    this.partners.add(peer);
    this.pending.push({ peer, key, microbatch: frame.microbatch, values: decoded.value });
    return decoded;
  }

  /**
   * The relay committed the step: its frames become bases, each link's in microbatch order (the
   * order both ends can agree on), and the caches of peers the step did not involve go.
   */
  commit(): void {
    const ordered = [...this.pending].sort((a, b) => a.microbatch - b.microbatch);
    for (const { peer, key, values } of ordered) {
      let cache = this.peers.get(peer);
      if (!cache) {
        cache = new ActivationCache(this.maxBytesPerLink);
        this.peers.set(peer, cache);
      }
      cache.put(key, values);
    }
    for (const peer of [...this.peers.keys()]) if (!this.partners.has(peer)) this.peers.delete(peer);
    this.pending = [];
    this.partners = new Set();
  }

  /** The relay aborted the step: its frames never count, and no base is trusted any more. */
  rollback(): void {
    this.peers.clear();
    this.pending = [];
    this.partners = new Set();
  }
}
