// An author's signed claim of its round frame as it travelled over the mesh while members still
// exchanged frames there. Volunteers now send their frames to the relay only (an aggregate
// comes back in pieces), so only the attacking test client still sends frames and claims to
// its group, to show that honest members ignore them. The relay still takes a claim named in
// a manifest as proof of equivocation (relay/rounds/round-frames.ts).
//
// Layout (fixed size):
//
//   offset  size  field
//   0       4     magic, ASCII "PLTS" (frame-magics.ts)
//   4       1     version, currently 1
//   5       3     reserved, 0
//   8       4     round, u32 little-endian
//   12      4     the round's seed, u32 little-endian (one per opening of the round)
//   16      32    SHA-256 of the frame
//   48      64    Ed25519 signature of frameClaimMessage(runId, round, seed, hash)

import { decodeBase64url, encodeBase64url } from '../../protocol/base64url.ts';
import { ED25519_SIGNATURE_BYTES } from '../../protocol/ed25519-verify.ts';
import { VERSION_OFFSET } from '../../protocol/frame-envelope.ts';
import { FRAME_CLAIM_MAGIC, hasMagic, MAGIC_OFFSET } from '../../protocol/frame-magics.ts';

export const CLAIM_VERSION = 1;
const ROUND_OFFSET = 8;
const SEED_OFFSET = 12;
const HASH_OFFSET = 16;
const HASH_BYTES = 32;
const SIGNATURE_OFFSET = HASH_OFFSET + HASH_BYTES;
export const FRAME_CLAIM_BYTES = SIGNATURE_OFFSET + ED25519_SIGNATURE_BYTES;

export interface FrameClaim {
  readonly round: number;
  readonly seed: number;
  /** Hex SHA-256 of the claimed frame. */
  readonly frameHash: string;
  /** Canonical base64url Ed25519 signature of frameClaimMessage(runId, round, seed, frameHash). */
  readonly signature: string;
}

export function encodeFrameClaim(claim: FrameClaim): Uint8Array<ArrayBuffer> {
  const signature = decodeBase64url(claim.signature);
  if (!/^[0-9a-f]{64}$/.test(claim.frameHash)) throw new RangeError('a frame hash is 64 hex digits');
  if (signature?.length !== ED25519_SIGNATURE_BYTES) throw new RangeError('a claim signature is 64 bytes');
  for (const [name, value] of [
    ['round', claim.round],
    ['seed', claim.seed],
  ] as const)
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
      throw new RangeError(`${name} ${value} is not a u32`);
  const bytes = new Uint8Array(FRAME_CLAIM_BYTES);
  bytes.set(FRAME_CLAIM_MAGIC, MAGIC_OFFSET);
  bytes[VERSION_OFFSET] = CLAIM_VERSION;
  new DataView(bytes.buffer).setUint32(ROUND_OFFSET, claim.round, true);
  new DataView(bytes.buffer).setUint32(SEED_OFFSET, claim.seed, true);
  for (let i = 0; i < HASH_BYTES; i++)
    bytes[HASH_OFFSET + i] = Number.parseInt(claim.frameHash.slice(2 * i, 2 * i + 2), 16);
  bytes.set(signature, SIGNATURE_OFFSET);
  return bytes;
}

/** Whether `bytes` starts like a frame claim (as opposed to a frame or an auth message). */
export function isFrameClaim(bytes: Uint8Array): boolean {
  return hasMagic(bytes, FRAME_CLAIM_MAGIC);
}

/** The claim in `bytes`, or null for anything malformed. Never throws. */
export function decodeFrameClaim(bytes: Uint8Array): FrameClaim | null {
  if (bytes.length !== FRAME_CLAIM_BYTES || !isFrameClaim(bytes)) return null;
  if (bytes[VERSION_OFFSET] !== CLAIM_VERSION) return null;
  if (bytes[VERSION_OFFSET + 1] !== 0 || bytes[VERSION_OFFSET + 2] !== 0 || bytes[VERSION_OFFSET + 3] !== 0)
    return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const round = view.getUint32(ROUND_OFFSET, true);
  const seed = view.getUint32(SEED_OFFSET, true);
  let frameHash = '';
  for (let i = 0; i < HASH_BYTES; i++)
    frameHash += (bytes[HASH_OFFSET + i] as number).toString(16).padStart(2, '0');
  const signature = encodeBase64url(bytes.subarray(SIGNATURE_OFFSET, FRAME_CLAIM_BYTES));
  return { round, seed, frameHash, signature };
}
