// What a frame or chunk decoder says instead of throwing: peers are untrusted, and one bad
// message must cost its sender the message, never the receiver its round.

export type FrameErrorCode =
  | 'ERR_FRAME_TRUNCATED' // fewer bytes than the header or its declared lengths need
  | 'ERR_FRAME_MAGIC' // not one of our frames at all
  | 'ERR_FRAME_VERSION' // a version this reader does not know
  | 'ERR_FRAME_KIND' // a tensor kind this reader does not handle
  | 'ERR_FRAME_TOO_LARGE' // a declared size above the reader's caps (checked before allocating)
  | 'ERR_FRAME_FIELD' // a header field out of range or inconsistent with another
  | 'ERR_FRAME_TRAILING_BYTES' // more bytes than the header explains
  | 'ERR_FRAME_CHECKSUM' // the CRC-32 does not match: corrupted in transit
  | 'ERR_FRAME_INDEX' // the index list is malformed, unsorted or out of range
  | 'ERR_FRAME_FORMAT' // well formed, but not in the run's compression (frame-format.ts)
  | 'ERR_FRAME_VALUE' // a scale or value is NaN, infinite or negative where it cannot be
  | 'ERR_FRAME_NO_CACHE' // a delta frame whose cached base this reader lacks or holds in another shape
  | 'ERR_CHUNK_HEADER' // a chunk's header is malformed or disagrees with its message
  | 'ERR_CHUNK_TOO_LARGE' // a chunk or its declared message exceeds the assembler's caps
  | 'ERR_CHUNK_DUPLICATE' // the same chunk arrived twice
  | 'ERR_CHUNK_BACKLOG'; // too many messages in progress at once

export interface FrameError {
  readonly code: FrameErrorCode;
  readonly message: string;
}

export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: FrameError };

export function refuse(code: FrameErrorCode, message: string): { ok: false; error: FrameError } {
  return { ok: false, error: { code, message } };
}
