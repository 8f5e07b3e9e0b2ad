// Asking a peer for a piece of a committed state file, and its answer (docs/ARCHITECTURE.md,
// "Joining from peers"): a volunteer that joins or falls behind asks the peers the relay named
// as holders for pieces of the state whose tree root the relay committed (state-tree.ts), and
// checks each piece's proof against that root on arrival. The relay answers the same message
// for pieces no peer gave.
//
// Request (44 bytes):            Piece:
//   0   4  magic "PLTQ"            0   4  magic "PLTR"
//   4   1  version, 1              4   1  version, 1
//   5   3  reserved, 0             5   1  proof length L (levels), at most 40
//   8   4  piece index, u32 LE     6   2  reserved, 0
//   12  32 the tree's root         8   4  piece index, u32 LE
//                                  12  32 the tree's root
//                                  44  33 × L  per level: 1 and a sibling hash, or 0 and 32 zeros
//                                  ..  the piece's bytes (the rest)

import { VERSION_OFFSET } from './frame-envelope.ts';
import { type DecodeResult, refuse } from './frame-errors.ts';
import { hasMagic, MAGIC_OFFSET, STATE_PIECE_MAGIC, STATE_REQUEST_MAGIC } from './frame-magics.ts';
import { bytesOfHex, hexOf } from './sha256.ts';
import { type PieceProof, STATE_PIECE_BYTES } from './state-tree.ts';

export const STATE_MESSAGE_VERSION = 1;
const INDEX_OFFSET = 8;
const ROOT_OFFSET = 12;
const HASH_BYTES = 32;
export const STATE_REQUEST_BYTES = ROOT_OFFSET + HASH_BYTES;
const PROOF_OFFSET = STATE_REQUEST_BYTES;
const LEVEL_BYTES = 1 + HASH_BYTES;
/** Levels of a proof: a tree of MAX_STATE_PIECES (2^20) pieces has 20; twice that is refused. */
export const MAX_PROOF_LEVELS = 40;

/** The largest piece message of a tree with pieces of `pieceBytes` (state-tree.ts). */
export function maxStatePieceMessageBytes(pieceBytes = STATE_PIECE_BYTES): number {
  return PROOF_OFFSET + LEVEL_BYTES * MAX_PROOF_LEVELS + pieceBytes;
}

export interface StateRequest {
  readonly root: string;
  readonly index: number;
}

export interface StatePiece extends StateRequest {
  readonly proof: PieceProof;
  readonly bytes: Uint8Array;
}

export function isStateRequest(bytes: Uint8Array): boolean {
  return hasMagic(bytes, STATE_REQUEST_MAGIC);
}

export function isStatePiece(bytes: Uint8Array): boolean {
  return hasMagic(bytes, STATE_PIECE_MAGIC);
}

export function encodeStateRequest(request: StateRequest): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(STATE_REQUEST_BYTES);
  out.set(STATE_REQUEST_MAGIC, MAGIC_OFFSET);
  out[VERSION_OFFSET] = STATE_MESSAGE_VERSION;
  new DataView(out.buffer).setUint32(INDEX_OFFSET, request.index, true);
  out.set(unhex(request.root), ROOT_OFFSET);
  return out;
}

export function decodeStateRequest(bytes: Uint8Array): DecodeResult<StateRequest> {
  if (bytes.length !== STATE_REQUEST_BYTES)
    return refuse('ERR_FRAME_FIELD', `a state request is ${STATE_REQUEST_BYTES} bytes`);
  const header = readHeader(bytes, STATE_REQUEST_MAGIC);
  if (!header.ok) return header;
  if (bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0)
    return refuse('ERR_FRAME_FIELD', 'reserved bytes are not zero');
  return { ok: true, value: header.value };
}

export function encodeStatePiece(piece: StatePiece): Uint8Array<ArrayBuffer> {
  if (piece.proof.length > MAX_PROOF_LEVELS) throw new RangeError(`${piece.proof.length} proof levels`);
  const out = new Uint8Array(PROOF_OFFSET + LEVEL_BYTES * piece.proof.length + piece.bytes.length);
  out.set(STATE_PIECE_MAGIC, MAGIC_OFFSET);
  out[VERSION_OFFSET] = STATE_MESSAGE_VERSION;
  out[5] = piece.proof.length;
  new DataView(out.buffer).setUint32(INDEX_OFFSET, piece.index, true);
  out.set(unhex(piece.root), ROOT_OFFSET);
  for (const [level, sibling] of piece.proof.entries()) {
    const at = PROOF_OFFSET + LEVEL_BYTES * level;
    if (sibling === null) continue;
    out[at] = 1;
    out.set(unhex(sibling), at + 1);
  }
  out.set(piece.bytes, PROOF_OFFSET + LEVEL_BYTES * piece.proof.length);
  return out;
}

/** The piece in `bytes`, or why not; never throws. The proof is checked later, against the root. */
export function decodeStatePiece(bytes: Uint8Array): DecodeResult<StatePiece> {
  if (bytes.length < PROOF_OFFSET) return refuse('ERR_FRAME_TRUNCATED', `${bytes.length} bytes`);
  const header = readHeader(bytes, STATE_PIECE_MAGIC);
  if (!header.ok) return header;
  const levels = bytes[5] as number;
  if (levels > MAX_PROOF_LEVELS || bytes[6] !== 0 || bytes[7] !== 0)
    return refuse('ERR_FRAME_FIELD', `proof of ${levels} levels, or reserved bytes set`);
  const piecesAt = PROOF_OFFSET + LEVEL_BYTES * levels;
  if (bytes.length < piecesAt)
    return refuse('ERR_FRAME_TRUNCATED', `${bytes.length} bytes for ${levels} levels`);
  const proof: (string | null)[] = [];
  for (let level = 0; level < levels; level++) {
    const at = PROOF_OFFSET + LEVEL_BYTES * level;
    const flag = bytes[at];
    const hash = bytes.subarray(at + 1, at + LEVEL_BYTES);
    if (flag === 1) proof.push(hexOf(hash));
    else if (flag === 0 && hash.every((b) => b === 0)) proof.push(null);
    else return refuse('ERR_FRAME_FIELD', `proof level ${level} is malformed`);
  }
  return { ok: true, value: { ...header.value, proof, bytes: bytes.slice(piecesAt) } };
}

function readHeader(bytes: Uint8Array, magic: Uint8Array): DecodeResult<StateRequest> {
  if (!hasMagic(bytes, magic)) return refuse('ERR_FRAME_MAGIC', 'not a state message of this kind');
  if (bytes[VERSION_OFFSET] !== STATE_MESSAGE_VERSION)
    return refuse('ERR_FRAME_VERSION', `state message version ${bytes[VERSION_OFFSET]}`);
  const index = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(INDEX_OFFSET, true);
  return { ok: true, value: { index, root: hexOf(bytes.subarray(ROOT_OFFSET, ROOT_OFFSET + HASH_BYTES)) } };
}

function unhex(hex: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new RangeError('a hash is 64 hex digits');
  return bytesOfHex(hex);
}
