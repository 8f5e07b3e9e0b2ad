// A volunteer's identity: an Ed25519 key pair made with WebCrypto (RFC 8032; Chromium 137+,
// Node 20). The public key, base64url, is the volunteer's id everywhere: on the relay, in the
// ledger, to other peers. The private key is made non-extractable, so a script that reads
// the stored key (IndexedDB keeps CryptoKey objects as they are) can use it but not copy it.
import { encodeBase64url } from '../../../protocol/base64url.ts';

export interface PeerIdentity {
  /** Raw 32-byte public key, base64url. */
  readonly publicKey: string;
  /** Ed25519 signature of `message`, base64url. */
  sign(message: Uint8Array): Promise<string>;
}

/** WebCrypto's key type, named through the `crypto` global so DOM and Node typings both fit. */
type Key = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

export interface StoredKeyPair {
  readonly privateKey: Key;
  readonly publicKey: Key;
}

/**
 * A fresh key pair; the caller persists it (idb-keyval in the browser keeps the CryptoKey
 * itself, so it stays non-extractable there; the Node volunteer writes PKCS#8 to a file and
 * asks for an extractable key).
 */
export async function generateKeyPair(extractable = false): Promise<StoredKeyPair> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, extractable, ['sign', 'verify'])) as {
    privateKey: Key;
    publicKey: Key;
  };
  return { privateKey: pair.privateKey, publicKey: pair.publicKey };
}

export async function identityFromKeyPair(pair: StoredKeyPair): Promise<PeerIdentity> {
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return {
    publicKey: encodeBase64url(raw),
    async sign(message) {
      const signature = await crypto.subtle.sign(
        'Ed25519',
        pair.privateKey,
        message as Uint8Array<ArrayBuffer>,
      );
      return encodeBase64url(new Uint8Array(signature));
    },
  };
}
