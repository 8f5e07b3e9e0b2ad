// The activation cache behind the delta codecs (AQ-SGD; protocol/activation-frame.ts): for each
// (boundary, direction, sample id) the last tensor that crossed that boundary for that sample,
// kept by both the sender and the receiver, bounded in bytes, least recently used evicted first.
//
// Both sides store the DECODED tensor, never the sender's exact one. The receiver has only the
// decoded tensor; if the sender kept the exact one, its next delta would be taken against a base
// the receiver does not hold, and the receiver's reconstruction would be off by the last
// rounding error, then by the sum of every rounding error since, drifting without bound. With
// both holding f32(cached + f32(q * s)), computed by the same function on the same bytes, the two
// caches are bit-identical, and each frame's error is that of its own delta alone.
//
// The caches must also evict identically, or the sender would send a delta the receiver has no
// base for. So eviction is decided per link (boundary, direction) and only by that link's frames:
// both ends call accept() once per frame, in the frame's order (an ordered data channel gives
// that), and nothing else changes an entry's recency. codecFor() only peeks. A peer may share one
// cache between its links because each link has its own byte cap and its own LRU order.
import {
  type ActivationCodec,
  type ActivationDirection,
  type ActivationFrame,
  dequantizeActivations,
  isDeltaCodec,
  quantizedCodec,
} from '../../protocol/activation-frame.ts';
import type { DecodeResult } from '../../protocol/frame-errors.ts';
import type { CodeBits } from '../../protocol/signed-codes.ts';

export interface ActivationKey {
  readonly boundary: number;
  readonly direction: ActivationDirection;
  /** The microbatch's sample id base: the data position of its first sequence. */
  readonly sampleId: number;
}

/** What a sender encodes with: the delta codec and its base when the key is cached. */
export interface CodecChoice {
  readonly codec: ActivationCodec;
  /** The base for a delta codec (upload it for the GPU encoder); null for a plain codec. */
  readonly cached: Float32Array | null;
}

interface Link {
  /** Sample id → decoded tensor; Map iteration order is insertion order, so oldest first. */
  readonly entries: Map<number, Float32Array>;
  bytes: number;
}

function linkKey(boundary: number, direction: ActivationDirection): string {
  return `${boundary}:${direction}`;
}

export class ActivationCache {
  private readonly links = new Map<string, Link>();

  /** `maxBytesPerLink`: bytes of cached tensors each (boundary, direction) link may hold. */
  constructor(readonly maxBytesPerLink: number) {
    if (!(Number.isFinite(maxBytesPerLink) && maxBytesPerLink >= 0))
      throw new RangeError(`activation cache: byte cap ${maxBytesPerLink} is not a non-negative number`);
  }

  /** Bytes held over every link. */
  get bytes(): number {
    let total = 0;
    for (const link of this.links.values()) total += link.bytes;
    return total;
  }

  /** Entries held over every link. */
  get size(): number {
    let total = 0;
    for (const link of this.links.values()) total += link.entries.size;
    return total;
  }

  /** The cached tensor for `key`, without touching its recency. The caller must not modify it. */
  peek(key: ActivationKey): Float32Array | undefined {
    return this.links.get(linkKey(key.boundary, key.direction))?.entries.get(key.sampleId);
  }

  /** Sample ids held for a link, least recently used first. */
  sampleIds(boundary: number, direction: ActivationDirection): number[] {
    return [...(this.links.get(linkKey(boundary, direction))?.entries.keys() ?? [])];
  }

  /**
   * The sender's choice for a tensor of `length` values: the delta codec when the key holds a
   * tensor of that length (a microbatch shaped as last time), the plain one otherwise.
   */
  codecFor(key: ActivationKey, length: number, bits: CodeBits): CodecChoice {
    const cached = this.peek(key);
    if (cached?.length === length) return { codec: quantizedCodec(bits, true), cached };
    return { codec: quantizedCodec(bits, false), cached: null };
  }

  /**
   * Decodes `frame` against this cache and stores the result under the frame's key, which
   * becomes the most recently used. The sender calls it with the frame it sent, the receiver
   * with the frame it got, so both hold the same tensor. On failure (a delta frame with no base
   * here) the key is dropped: whatever was held no longer matches the sender's copy. Never
   * throws; the returned tensor is the cached one and must not be modified.
   */
  accept(frame: ActivationFrame): DecodeResult<Float32Array> {
    const key = { boundary: frame.boundary, direction: frame.direction, sampleId: frame.sampleIdBase };
    const decoded = dequantizeActivations(frame, isDeltaCodec(frame.codec) ? this.peek(key) : undefined);
    if (decoded.ok) this.put(key, decoded.value);
    else this.delete(key);
    return decoded;
  }

  delete(key: ActivationKey): boolean {
    const id = linkKey(key.boundary, key.direction);
    const link = this.links.get(id);
    const held = link?.entries.get(key.sampleId);
    if (!link || !held) return false;
    link.entries.delete(key.sampleId);
    link.bytes -= held.byteLength;
    if (link.entries.size === 0) this.links.delete(id);
    return true;
  }

  clear(): void {
    this.links.clear();
  }

  /**
   * Puts `values` under `key` as the most recently used, then evicts the least recently used
   * entries of its link until the link fits its cap. A tensor larger than the cap is not kept.
   * The cache keeps `values` itself: the caller must not modify it afterwards.
   */
  put(key: ActivationKey, values: Float32Array): void {
    this.delete(key);
    if (values.byteLength > this.maxBytesPerLink) return;
    const id = linkKey(key.boundary, key.direction);
    let link = this.links.get(id);
    if (!link) {
      link = { entries: new Map(), bytes: 0 };
      this.links.set(id, link);
    }
    link.entries.set(key.sampleId, values);
    link.bytes += values.byteLength;
    for (const [sampleId, held] of link.entries) {
      if (link.bytes <= this.maxBytesPerLink) break;
      link.entries.delete(sampleId);
      link.bytes -= held.byteLength;
    }
  }
}
