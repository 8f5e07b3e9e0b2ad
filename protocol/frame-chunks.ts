// Large messages cut into chunks for WebRTC data channels, and put back together. Chromium
// refuses a data-channel message above 256 KiB and SCTP interleaves badly with big ones, so
// we send at most 16 KiB at a time. Chunks of one message may arrive in any order (after a
// reconnect, or over several channels); each says where it belongs, and the assembler
// checks every claim against its caps before it allocates anything.
//
// Chunk layout (integers little-endian):
//
//   offset  size  field
//   0       4     magic, ASCII "PLTC" (Potluck chunk; frame-magics.ts)
//   4       1     version, currently 1
//   5       3     reserved, 0
//   8       4     message id (u32), unique per sender while the message is in flight
//   12      4     chunk index (u32), 0-based
//   16      4     chunk count (u32) = max(1, ceil(total / stride))
//   20      4     total message bytes (u32)
//   24      4     stride (u32): payload bytes of every chunk but the last
//   28      ...   payload: min(stride, total − index × stride) bytes
import { VERSION_OFFSET } from './frame-envelope.ts';
import type { FrameError, FrameErrorCode } from './frame-errors.ts';
import { CHUNK_MAGIC, hasMagic, MAGIC_OFFSET } from './frame-magics.ts';

export const CHUNK_VERSION = 1;
export const CHUNK_VERSION_OFFSET = VERSION_OFFSET;
export const CHUNK_RESERVED_OFFSET = CHUNK_VERSION_OFFSET + 1;
export const MESSAGE_ID_OFFSET = CHUNK_RESERVED_OFFSET + 3;
export const CHUNK_INDEX_OFFSET = MESSAGE_ID_OFFSET + 4;
export const CHUNK_COUNT_OFFSET = CHUNK_INDEX_OFFSET + 4;
export const TOTAL_BYTES_OFFSET = CHUNK_COUNT_OFFSET + 4;
export const STRIDE_OFFSET = TOTAL_BYTES_OFFSET + 4;
export const CHUNK_HEADER_BYTES = STRIDE_OFFSET + 4;

/** Most bytes one chunk takes on the wire, header included. */
export const MAX_CHUNK_BYTES = 16 * 1024;

export interface AssemblerLimits {
  /** Largest message accepted (checked before its buffer is allocated). */
  readonly maxMessageBytes: number;
  /** Messages in progress at once. */
  readonly maxPendingMessages: number;
  /** Bytes held for messages in progress, all together. */
  readonly maxPendingBytes: number;
  /** Largest chunk accepted, header included. */
  readonly maxChunkBytes: number;
}

/**
 * The smallest stride a multi-chunk message may use. Senders cut at MAX_CHUNK_BYTES; a receiver
 * allows smaller chunks (a peer may tune them down) but not so small that a message's chunk
 * count approaches its byte count.
 */
export const MIN_STRIDE = 1024;

/** What a message in progress holds: its bytes and one flag per chunk. */
function heldFor(total: number, count: number): number {
  return total + count;
}

/** One dense fp32 frame of 16M parameters fits; two such in flight at most. */
export const DEFAULT_ASSEMBLER_LIMITS: AssemblerLimits = {
  maxMessageBytes: 64 * 2 ** 20,
  maxPendingMessages: 16,
  maxPendingBytes: 128 * 2 ** 20,
  maxChunkBytes: MAX_CHUNK_BYTES,
};

/** Cuts a message into chunks of at most `maxChunkBytes` bytes each. */
export function splitIntoChunks(
  messageId: number,
  message: Uint8Array,
  maxChunkBytes = MAX_CHUNK_BYTES,
): Uint8Array[] {
  const stride = maxChunkBytes - CHUNK_HEADER_BYTES;
  if (!(Number.isInteger(stride) && stride >= 1))
    throw new RangeError(`chunks of ${maxChunkBytes} bytes hold no payload`);
  if (message.length > 0xffffffff) throw new RangeError('messages are limited to 4 GiB');
  const count = Math.max(1, Math.ceil(message.length / stride));
  const chunks: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const payload = message.subarray(index * stride, Math.min(message.length, (index + 1) * stride));
    const chunk = new Uint8Array(CHUNK_HEADER_BYTES + payload.length);
    const view = new DataView(chunk.buffer);
    chunk.set(CHUNK_MAGIC, MAGIC_OFFSET);
    view.setUint8(CHUNK_VERSION_OFFSET, CHUNK_VERSION);
    view.setUint32(MESSAGE_ID_OFFSET, messageId >>> 0, true);
    view.setUint32(CHUNK_INDEX_OFFSET, index, true);
    view.setUint32(CHUNK_COUNT_OFFSET, count, true);
    view.setUint32(TOTAL_BYTES_OFFSET, message.length, true);
    view.setUint32(STRIDE_OFFSET, stride, true);
    chunk.set(payload, CHUNK_HEADER_BYTES);
    chunks.push(chunk);
  }
  return chunks;
}

export type AssemblyResult =
  | { readonly status: 'partial' }
  | { readonly status: 'complete'; readonly messageId: number; readonly bytes: Uint8Array }
  | { readonly status: 'refused'; readonly error: FrameError };

function refused(code: FrameErrorCode, message: string): AssemblyResult {
  return { status: 'refused', error: { code, message } };
}

interface Pending {
  readonly count: number;
  readonly total: number;
  readonly stride: number;
  readonly bytes: Uint8Array;
  readonly seen: Uint8Array;
  received: number;
}

/** Reassembles the chunks of one sender. Never throws on what it is given. */
export class ChunkAssembler {
  private readonly limits: AssemblerLimits;
  private readonly pending = new Map<number, Pending>();
  private held = 0;

  constructor(limits: Partial<AssemblerLimits> = {}) {
    this.limits = { ...DEFAULT_ASSEMBLER_LIMITS, ...limits };
  }

  /** Bytes allocated for messages still in progress. */
  get pendingBytes(): number {
    return this.held;
  }

  get pendingMessages(): number {
    return this.pending.size;
  }

  /** Forgets a message in progress (its sender left, or its round ended). */
  drop(messageId: number): void {
    const message = this.pending.get(messageId);
    if (!message) return;
    this.held -= heldFor(message.total, message.count);
    this.pending.delete(messageId);
  }

  push(chunk: Uint8Array): AssemblyResult {
    const { limits } = this;
    if (chunk.length < CHUNK_HEADER_BYTES)
      return refused('ERR_CHUNK_HEADER', `${chunk.length} bytes is shorter than a chunk header`);
    if (chunk.length > limits.maxChunkBytes)
      return refused('ERR_CHUNK_TOO_LARGE', `a ${chunk.length}-byte chunk exceeds ${limits.maxChunkBytes}`);
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (!hasMagic(chunk, CHUNK_MAGIC)) return refused('ERR_CHUNK_HEADER', 'not a chunk');
    if (view.getUint8(CHUNK_VERSION_OFFSET) !== CHUNK_VERSION)
      return refused('ERR_CHUNK_HEADER', 'unknown chunk version');
    // Reserved means zero, so a later version can give these bytes a meaning.
    if (chunk.subarray(CHUNK_RESERVED_OFFSET, MESSAGE_ID_OFFSET).some((byte) => byte !== 0))
      return refused('ERR_CHUNK_HEADER', 'reserved bytes are not zero');
    const messageId = view.getUint32(MESSAGE_ID_OFFSET, true);
    const index = view.getUint32(CHUNK_INDEX_OFFSET, true);
    const count = view.getUint32(CHUNK_COUNT_OFFSET, true);
    const total = view.getUint32(TOTAL_BYTES_OFFSET, true);
    const stride = view.getUint32(STRIDE_OFFSET, true);
    if (total > limits.maxMessageBytes)
      return refused('ERR_CHUNK_TOO_LARGE', `a ${total}-byte message exceeds ${limits.maxMessageBytes}`);
    // Every chunk but the last carries `stride` bytes, so a stride beyond what one chunk can carry
    // never completes, and one far below an honest sender's (MIN_STRIDE) only multiplies the
    // chunks a message needs and the bookkeeping held for it.
    const fits = stride <= limits.maxChunkBytes - CHUNK_HEADER_BYTES && (count === 1 || stride >= MIN_STRIDE);
    if (!fits || stride < 1 || count !== Math.max(1, Math.ceil(total / stride)) || index >= count)
      return refused(
        'ERR_CHUNK_HEADER',
        `chunk ${index} of ${count} does not fit ${total} bytes in strides of ${stride}`,
      );
    const payload = chunk.subarray(CHUNK_HEADER_BYTES);
    const start = index * stride;
    if (payload.length !== Math.min(stride, total - start))
      return refused(
        'ERR_CHUNK_HEADER',
        `chunk ${index} carries ${payload.length} bytes, its place holds ${Math.min(stride, total - start)}`,
      );

    let message = this.pending.get(messageId);
    if (message) {
      if (message.count !== count || message.total !== total || message.stride !== stride)
        return refused(
          'ERR_CHUNK_HEADER',
          `chunk ${index} disagrees with the first chunk of message ${messageId}`,
        );
      if (message.seen[index])
        return refused('ERR_CHUNK_DUPLICATE', `chunk ${index} of message ${messageId} arrived twice`);
    } else {
      if (count === 1) return { status: 'complete', messageId, bytes: payload.slice() };
      if (this.pending.size >= limits.maxPendingMessages)
        return refused('ERR_CHUNK_BACKLOG', `${this.pending.size} messages already in progress`);
      if (this.held + heldFor(total, count) > limits.maxPendingBytes)
        return refused(
          'ERR_CHUNK_BACKLOG',
          `${this.held} bytes already held; ${heldFor(total, count)} more exceed ${limits.maxPendingBytes}`,
        );
      message = {
        count,
        total,
        stride,
        bytes: new Uint8Array(total),
        seen: new Uint8Array(count),
        received: 0,
      };
      this.pending.set(messageId, message);
      this.held += heldFor(total, count);
    }
    message.bytes.set(payload, start);
    message.seen[index] = 1;
    message.received++;
    if (message.received < message.count) return { status: 'partial' };
    this.drop(messageId);
    return { status: 'complete', messageId, bytes: message.bytes };
  }
}
