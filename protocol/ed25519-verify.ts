// Checking an Ed25519 signature (RFC 8032) given as base64url text, with WebCrypto, the same
// call in a browser, a Web Worker and Node. Inputs come from peers and auditors' downloads,
// so this answers false for anything malformed instead of throwing.
import { decodeBase64url } from './base64url.ts';

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/** The field prime of Curve25519, 2^255 − 19. */
const FIELD_PRIME = 2n ** 255n - 19n;

/**
 * The y coordinates of Ed25519's eight small-order points (order 1, 2, 4 and 8): 1, −1, 0,
 * and ±y8. A key on one of them verifies a forged signature for any message (with R the
 * identity and S = 0, WebCrypto's cofactorless check passes), so anyone could share one free
 * identity. Compared modulo p, so non-canonical encodings (y ≥ p) and either sign are caught.
 */
const SMALL_ORDER_Y: ReadonlySet<bigint> = new Set([
  0n,
  1n,
  FIELD_PRIME - 1n,
  0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n,
  FIELD_PRIME - 0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n,
]);

/** Whether a 32-byte encoded public key is one of the small-order points (any encoding). */
export function isSmallOrderKey(keyBytes: Uint8Array): boolean {
  let y = 0n;
  for (let i = keyBytes.length - 1; i >= 0; i--) y = (y << 8n) | BigInt(keyBytes[i] as number);
  y &= (1n << 255n) - 1n; // the top bit is the sign of x
  return SMALL_ORDER_Y.has(y % FIELD_PRIME);
}

/** True only when `signature` is a valid Ed25519 signature of `message` by `publicKey`. */
export async function verifyEd25519(
  publicKey: unknown,
  signature: unknown,
  message: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  const keyBytes = decodeBase64url(publicKey);
  const signatureBytes = decodeBase64url(signature);
  if (keyBytes?.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  if (isSmallOrderKey(keyBytes)) return false;
  if (signatureBytes?.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'Ed25519' }, false, ['verify']);
    return await crypto.subtle.verify('Ed25519', key, signatureBytes, message);
  } catch {
    // A 32-byte string that is not a curve point is refused at import: a bad key, not a crash.
    return false;
  }
}
