// A hash tree over a committed state file, so a volunteer that joins or falls behind can fetch
// the state in pieces from several peers at once and check each piece on arrival, against one
// root the relay commits, instead of trusting whoever sent it or downloading it all from the
// relay. The file is cut into pieces of `pieceBytes` (the last may be shorter).
//
//   leaf  = SHA-256(0x00 ‖ index as u32 big-endian ‖ piece)
//   node  = SHA-256(0x01 ‖ left ‖ right); an odd node at the end of a level moves up unchanged
//   root  = the single node left, hex
//
// The prefixes keep a leaf from ever passing for a node (a second preimage), the index keeps a
// piece from passing for another one, and promoting the odd node (rather than pairing it with
// itself, as Bitcoin's tree does) means no two piece lists share a root. A proof is the
// sibling of each level on the way up, null where the node was promoted.
import { CodedError } from './coded-error.ts';
import { bytesOfHex, hexOf } from './sha256.ts';

/** 256 KiB at most: the default model's state (~6.7 MB) is 26 pieces. */
export const STATE_PIECE_BYTES = 256 * 1024;
/** Pieces a state is cut into, about (pieces are whole 4 KiB, at most 256 KiB): several holders share it. */
export const TARGET_STATE_PIECES = 16;
const PIECE_GRAIN = 4096;

/** The piece size of a state file of `totalBytes`: what the relay and every holder cut it by. */
export function statePieceBytes(totalBytes: number): number {
  const even = Math.ceil(totalBytes / TARGET_STATE_PIECES / PIECE_GRAIN) * PIECE_GRAIN;
  return Math.min(STATE_PIECE_BYTES, Math.max(PIECE_GRAIN, even));
}
/** A state file over this many pieces is refused: the proof length stays bounded. */
export const MAX_STATE_PIECES = 2 ** 20;

export interface StateTree {
  /** Hex root: what the relay commits beside the model hash. */
  readonly root: string;
  readonly totalBytes: number;
  readonly pieceBytes: number;
  readonly pieceCount: number;
  /** Every level's node hashes, leaves first (raw bytes). */
  readonly levels: readonly (readonly Uint8Array[])[];
}

/** What a receiver knows before any piece arrives: from the relay's commit. */
export interface TreeShape {
  readonly root: string;
  readonly totalBytes: number;
  readonly pieceBytes: number;
}

export type PieceProof = readonly (string | null)[];

export type PieceErrorCode = 'ERR_PIECE_INDEX' | 'ERR_PIECE_SIZE' | 'ERR_PIECE_PROOF' | 'ERR_PIECE_HASH';

export class PieceError extends CodedError<PieceErrorCode> {}

export type PieceVerdict = { readonly ok: true } | { readonly ok: false; readonly error: PieceError };

export async function stateTree(
  bytes: Uint8Array,
  pieceBytes = statePieceBytes(bytes.length),
): Promise<StateTree> {
  if (!Number.isSafeInteger(pieceBytes) || pieceBytes < 1) throw new RangeError(`piece size ${pieceBytes}`);
  const pieceCount = piecesIn(bytes.length, pieceBytes);
  if (pieceCount > MAX_STATE_PIECES)
    throw new RangeError(`${pieceCount} pieces: at most ${MAX_STATE_PIECES}`);
  let level: Uint8Array[] = [];
  for (let i = 0; i < pieceCount; i++) level.push(await leafHash(i, pieceAt(bytes, i, pieceBytes)));
  const levels: Uint8Array[][] = [level];
  while (level.length > 1) {
    const up: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array;
      const right = level[i + 1];
      up.push(right ? await nodeHash(left, right) : left);
    }
    levels.push(up);
    level = up;
  }
  return { root: hexOf(level[0] as Uint8Array), totalBytes: bytes.length, pieceBytes, pieceCount, levels };
}

/** Pieces in a file of `totalBytes` (an empty file is one empty piece). */
export function piecesIn(totalBytes: number, pieceBytes: number): number {
  return Math.max(1, Math.ceil(totalBytes / pieceBytes));
}

/** Piece `index` of `bytes` (a view, not a copy). */
export function pieceAt(bytes: Uint8Array, index: number, pieceBytes: number): Uint8Array {
  return bytes.subarray(index * pieceBytes, Math.min(bytes.length, (index + 1) * pieceBytes));
}

export function proofFor(tree: StateTree, index: number): PieceProof {
  if (!Number.isSafeInteger(index) || index < 0 || index >= tree.pieceCount)
    throw new RangeError(`piece ${index} of ${tree.pieceCount}`);
  const proof: (string | null)[] = [];
  let i = index;
  for (const level of tree.levels.slice(0, -1)) {
    const sibling = level[i ^ 1];
    proof.push(sibling ? hexOf(sibling) : null);
    i >>= 1;
  }
  return proof;
}

/**
 * Whether `piece` is piece `index` of the state `shape` names, by its proof. Never throws: a
 * peer's piece and proof are untrusted input, refused with a typed error.
 */
export async function verifyPiece(
  shape: TreeShape,
  index: number,
  piece: Uint8Array,
  proof: unknown,
): Promise<PieceVerdict> {
  const refuse = (code: PieceErrorCode, message: string): PieceVerdict => ({
    ok: false,
    error: new PieceError(code, message),
  });
  const count = piecesIn(shape.totalBytes, shape.pieceBytes);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count)
    return refuse('ERR_PIECE_INDEX', `piece ${index} of ${count}`);
  const expectedBytes = Math.min(shape.pieceBytes, shape.totalBytes - index * shape.pieceBytes);
  if (piece.length !== Math.max(0, expectedBytes))
    return refuse('ERR_PIECE_SIZE', `piece ${index} is ${piece.length} bytes, not ${expectedBytes}`);
  const path = siblingsOnPath(count, index);
  if (!Array.isArray(proof) || proof.length !== path.length)
    return refuse('ERR_PIECE_PROOF', `a proof of piece ${index} has ${path.length} levels`);
  let node = await leafHash(index, piece);
  for (const [level, hasSibling] of path.entries()) {
    const sibling = proof[level];
    if (!hasSibling) {
      if (sibling !== null) return refuse('ERR_PIECE_PROOF', `level ${level} has no sibling`);
      continue;
    }
    if (typeof sibling !== 'string' || !/^[0-9a-f]{64}$/.test(sibling))
      return refuse('ERR_PIECE_PROOF', `level ${level}: not a hash`);
    const isRight = ((index >> level) & 1) === 1;
    node = isRight ? await nodeHash(bytesOfHex(sibling), node) : await nodeHash(node, bytesOfHex(sibling));
  }
  return hexOf(node) === shape.root
    ? { ok: true }
    : refuse('ERR_PIECE_HASH', `piece ${index} does not hash to the committed root`);
}

/** For each level below the root, whether the node on piece `index`'s path has a sibling. */
function siblingsOnPath(count: number, index: number): boolean[] {
  const path: boolean[] = [];
  let width = count;
  let i = index;
  while (width > 1) {
    path.push((i ^ 1) < width);
    i >>= 1;
    width = Math.ceil(width / 2);
  }
  return path;
}

async function leafHash(index: number, piece: Uint8Array): Promise<Uint8Array> {
  const input = new Uint8Array(5 + piece.length);
  input[0] = 0x00;
  new DataView(input.buffer).setUint32(1, index);
  input.set(piece, 5);
  return digest(input);
}

async function nodeHash(left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
  const input = new Uint8Array(1 + left.length + right.length);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return digest(input);
}

async function digest(input: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', input as Uint8Array<ArrayBuffer>));
}
