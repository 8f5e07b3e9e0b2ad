// The three frames of the mesh's mutual authentication (web/src/peer/channel-auth.ts), sent on
// the data channel before any payload. They are binary like payload chunks (frame-chunks.ts)
// and told apart by their own magic (frame-magics.ts): simple-peer turns text messages into
// bytes on the way in, so the message type cannot be the discriminator.
//
// Layout:
//
//   offset  size  field
//   0       4     magic, ASCII "PLTM" (Potluck mesh auth). It was "PLTA" until activation
//                 frames took that magic too; peers of both builds cannot meet in one mesh.
//   4       1     version, currently 1
//   5       1     kind: 1 challenge, 2 response, 3 accepted
//   6       2     reserved, 0
//   8       ...   body, of a fixed size per kind:
//                 challenge  32 bytes  a fresh random nonce
//                 response   64 bytes  Ed25519 signature of authTranscript(...) over that nonce
//                 accepted    0 bytes  "your response checked out"

import { encodeBase64url } from './base64url.ts';
import { ED25519_SIGNATURE_BYTES } from './ed25519-verify.ts';
import { VERSION_OFFSET } from './frame-envelope.ts';
import { hasMagic, MAGIC_OFFSET, MESH_AUTH_MAGIC } from './frame-magics.ts';
import { unreachable } from './unreachable.ts';

export const AUTH_VERSION = 1;
export const AUTH_VERSION_OFFSET = VERSION_OFFSET;
export const AUTH_KIND_OFFSET = AUTH_VERSION_OFFSET + 1;
export const AUTH_RESERVED_OFFSET = AUTH_KIND_OFFSET + 1;
export const AUTH_HEADER_BYTES = AUTH_RESERVED_OFFSET + 2;

export const AUTH_NONCE_BYTES = 32;

/** Text every signer prefixes, so a mesh signature is never valid for anything else. */
export const AUTH_CONTEXT = 'potluck-mesh-auth-v1';

const KIND_CODES = { challenge: 1, response: 2, accepted: 3 } as const;
type AuthKind = keyof typeof KIND_CODES;
const BODY_BYTES: Record<AuthKind, number> = {
  challenge: AUTH_NONCE_BYTES,
  response: ED25519_SIGNATURE_BYTES,
  accepted: 0,
};

export type AuthFrame =
  | { readonly kind: 'challenge'; readonly nonce: Uint8Array<ArrayBuffer> }
  | { readonly kind: 'response'; readonly signature: Uint8Array<ArrayBuffer> }
  | { readonly kind: 'accepted' };

function frame(kind: AuthKind, body: Uint8Array = new Uint8Array(0)): Uint8Array<ArrayBuffer> {
  if (body.length !== BODY_BYTES[kind]) throw new RangeError(`a ${kind} body is ${BODY_BYTES[kind]} bytes`);
  const bytes = new Uint8Array(AUTH_HEADER_BYTES + body.length);
  bytes.set(MESH_AUTH_MAGIC, MAGIC_OFFSET);
  bytes[AUTH_VERSION_OFFSET] = AUTH_VERSION;
  bytes[AUTH_KIND_OFFSET] = KIND_CODES[kind];
  bytes.set(body, AUTH_HEADER_BYTES);
  return bytes;
}

export function encodeAuthFrame(message: AuthFrame): Uint8Array<ArrayBuffer> {
  switch (message.kind) {
    case 'challenge':
      return frame('challenge', message.nonce);
    case 'response':
      return frame('response', message.signature);
    case 'accepted':
      return frame('accepted');
    default: {
      return unreachable(message, 'auth frame');
    }
  }
}

/** Whether `bytes` starts like an auth frame (as opposed to a payload chunk). */
export function isAuthFrame(bytes: Uint8Array): boolean {
  return hasMagic(bytes, MESH_AUTH_MAGIC);
}

/** The frame in `bytes`, or null for anything malformed. Never throws. */
export function decodeAuthFrame(bytes: Uint8Array): AuthFrame | null {
  if (bytes.length < AUTH_HEADER_BYTES || !isAuthFrame(bytes)) return null;
  if (bytes[AUTH_VERSION_OFFSET] !== AUTH_VERSION) return null;
  if (bytes[AUTH_RESERVED_OFFSET] !== 0 || bytes[AUTH_RESERVED_OFFSET + 1] !== 0) return null;
  const body = bytes.slice(AUTH_HEADER_BYTES);
  switch (bytes[AUTH_KIND_OFFSET]) {
    case KIND_CODES.challenge:
      return body.length === BODY_BYTES.challenge ? { kind: 'challenge', nonce: body } : null;
    case KIND_CODES.response:
      return body.length === BODY_BYTES.response ? { kind: 'response', signature: body } : null;
    case KIND_CODES.accepted:
      return body.length === BODY_BYTES.accepted ? { kind: 'accepted' } : null;
    default:
      return null;
  }
}

/**
 * What `signer` signs to prove to `verifier` that it holds its key, in this run, now:
 * `potluck-mesh-auth-v1|<runId>|<signer key>|<verifier key>|<verifier's nonce, base64url>`.
 * Both keys are in it, so a signature made for one peer cannot be replayed to another.
 */
export function authTranscript(
  runId: string,
  signerKey: string,
  verifierKey: string,
  nonce: Uint8Array,
): Uint8Array<ArrayBuffer> {
  // TextEncoder always returns a fresh ArrayBuffer-backed array; the cast only tells TS so.
  return new TextEncoder().encode(
    `${AUTH_CONTEXT}|${runId}|${signerKey}|${verifierKey}|${encodeBase64url(nonce)}`,
  ) as Uint8Array<ArrayBuffer>;
}
