// A round's aggregate frame travels to the swarm in pieces (docs/ARCHITECTURE.md, "Everyone
// trains"): the relay names the hash of every piece in its decision, the member that owns a
// piece in its group fetches it from the relay once and passes it to the rest of the group over
// the mesh, and every receiver checks each piece against the relay's hash before using it. A
// member that passes on altered bytes is caught at once and the piece fetched from the relay;
// it can delay its group by one piece timeout, never change what anyone applies.
//
// Layout of the mesh message:
//
//   offset  size  field
//   0       4     magic, ASCII "PLTG" (frame-magics.ts)
//   4       1     version, currently 1
//   5       3     reserved, 0
//   8       4     round, u32 little-endian
//   12      2     piece index, u16
//   14      2     pieces in the aggregate, u16
//   16      ...   the piece's bytes (the rest of the message)

import { VERSION_OFFSET } from './frame-envelope.ts';
import { type DecodeResult, refuse } from './frame-errors.ts';
import { AGGREGATE_PIECE_MAGIC, hasMagic, MAGIC_OFFSET } from './frame-magics.ts';

export const PIECE_VERSION = 1;
const ROUND_OFFSET = 8;
const INDEX_OFFSET = 12;
const COUNT_OFFSET = 14;
export const PIECE_HEADER_BYTES = 16;
/** Pieces an aggregate is cut into at most (one per member of the largest group). */
export const MAX_AGGREGATE_PIECES = 64;

export interface AggregatePiece {
  readonly round: number;
  readonly index: number;
  readonly count: number;
  readonly bytes: Uint8Array;
}

/** Byte range [start, end) of piece `index` of `count` over an aggregate of `total` bytes. */
export function pieceRange(total: number, count: number, index: number): { start: number; end: number } {
  const size = Math.ceil(total / count);
  const start = Math.min(total, index * size);
  return { start, end: Math.min(total, start + size) };
}

/** Pieces of a group of `groupSize` that member `position` (its place in the sorted group) owns. */
export function ownedPieces(count: number, groupSize: number, position: number): number[] {
  const owned: number[] = [];
  for (let p = position; p < count; p += groupSize) owned.push(p);
  return owned;
}

export function encodeAggregatePiece(piece: AggregatePiece): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(PIECE_HEADER_BYTES + piece.bytes.length);
  out.set(AGGREGATE_PIECE_MAGIC, MAGIC_OFFSET);
  out[VERSION_OFFSET] = PIECE_VERSION;
  const view = new DataView(out.buffer);
  view.setUint32(ROUND_OFFSET, piece.round, true);
  view.setUint16(INDEX_OFFSET, piece.index, true);
  view.setUint16(COUNT_OFFSET, piece.count, true);
  out.set(piece.bytes, PIECE_HEADER_BYTES);
  return out;
}

/** Whether `bytes` starts like an aggregate piece (as opposed to a frame or a claim). */
export function isAggregatePiece(bytes: Uint8Array): boolean {
  return hasMagic(bytes, AGGREGATE_PIECE_MAGIC);
}

/** The piece in `bytes`, or why not; never throws. Its bytes are a copy. */
export function decodeAggregatePiece(bytes: Uint8Array): DecodeResult<AggregatePiece> {
  if (bytes.length < PIECE_HEADER_BYTES) return refuse('ERR_FRAME_TRUNCATED', `${bytes.length} bytes`);
  if (!isAggregatePiece(bytes)) return refuse('ERR_FRAME_MAGIC', 'not an aggregate piece');
  if (bytes[VERSION_OFFSET] !== PIECE_VERSION)
    return refuse('ERR_FRAME_VERSION', `aggregate piece version ${bytes[VERSION_OFFSET]}`);
  if (bytes[VERSION_OFFSET + 1] !== 0 || bytes[VERSION_OFFSET + 2] !== 0 || bytes[VERSION_OFFSET + 3] !== 0)
    return refuse('ERR_FRAME_FIELD', 'reserved bytes are not zero');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const round = view.getUint32(ROUND_OFFSET, true);
  const index = view.getUint16(INDEX_OFFSET, true);
  const count = view.getUint16(COUNT_OFFSET, true);
  if (count === 0 || count > MAX_AGGREGATE_PIECES || index >= count)
    return refuse('ERR_FRAME_FIELD', `piece ${index} of ${count}`);
  return { ok: true, value: { round, index, count, bytes: bytes.slice(PIECE_HEADER_BYTES) } };
}
