// Checking an Ed25519 signature (RFC 8032) given as base64url text, with WebCrypto, the same
// call in a browser, a Web Worker and Node. Inputs come from peers and auditors' downloads,
// so this answers false for anything malformed instead of throwing.
import { decodeBase64url } from './base64url.ts';

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/** True only when `signature` is a valid Ed25519 signature of `message` by `publicKey`. */
export async function verifyEd25519(
  publicKey: unknown,
  signature: unknown,
  message: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  const keyBytes = decodeBase64url(publicKey);
  const signatureBytes = decodeBase64url(signature);
  if (keyBytes?.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  if (signatureBytes?.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'Ed25519' }, false, ['verify']);
    return await crypto.subtle.verify('Ed25519', key, signatureBytes, message);
  } catch {
    // A 32-byte string that is not a curve point is refused at import: a bad key, not a crash.
    return false;
  }
}
