// The relay's own Ed25519 identity: it signs ledger heads and receipts, and anyone holding
// its public key can check them (protocol/ledger-entry.ts). The private key lives in the
// state folder as PKCS#8 (RFC 5958), readable by the relay's user only, so a restarted relay
// keeps signing with the key its receipts already name. Changing it is a rotation the ledger
// records (rotate-key.ts, relay/cli/relay-key.ts), never a new file dropped in place.
import type { webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { encodeBase64url } from '../../protocol/base64url.ts';
import { writeOnce } from '../write-once.ts';
import { LedgerError } from './errors.ts';

export interface RelaySigner {
  /** Raw 32-byte Ed25519 public key, base64url. */
  readonly publicKey: string;
  /** Ed25519 signature of `bytes`, base64url (64 bytes). */
  sign(bytes: Uint8Array<ArrayBuffer>): Promise<string>;
}

/** The key's file name in the state folder. */
export const RELAY_KEY_FILE = 'relay-key.pkcs8';

const ED25519 = { name: 'Ed25519' } as const;

/** Node's types return `CryptoKey | CryptoKeyPair` for an algorithm they do not list as a pair. */
async function generatePair(): Promise<webcrypto.CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

/** A signer around an Ed25519 private key that may be exported (its JWK holds the public half). */
export async function signerFromKey(privateKey: webcrypto.CryptoKey): Promise<RelaySigner> {
  const jwk = await crypto.subtle.exportKey('jwk', privateKey);
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new LedgerError('ERR_RELAY_KEY', 'not an Ed25519 private key');
  }
  const publicKey = jwk.x;
  return {
    publicKey,
    async sign(bytes) {
      return encodeBase64url(new Uint8Array(await crypto.subtle.sign(ED25519, privateKey, bytes)));
    },
  };
}

/** A fresh key that lives only in memory: tests, and throwaway relays. */
export async function generateRelaySigner(): Promise<RelaySigner> {
  const pair = await generatePair();
  return signerFromKey(pair.privateKey);
}

/**
 * The key in `file`, made on first use. Creation writes a temporary file (mode 0600) and
 * hard-links it into place, which fails if another relay got there first: then both load
 * the winner's key, and nobody ever reads a half-written file.
 */
export async function loadOrCreateRelayKey(file: string): Promise<RelaySigner> {
  const existing = await readRelayKey(file);
  if (existing) return existing;
  await writeNewKey(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return (await readRelayKey(file)) ?? Promise.reject(new LedgerError('ERR_RELAY_KEY', `${file} vanished`));
}

/** A fresh key written to `file`, which must not exist yet (EEXIST otherwise). */
export async function createRelayKeyFile(file: string): Promise<RelaySigner> {
  await writeNewKey(file);
  return (await readRelayKey(file)) ?? Promise.reject(new LedgerError('ERR_RELAY_KEY', `${file} vanished`));
}

/** A new key in `file`, which appears whole or not at all (write-once.ts). */
async function writeNewKey(file: string): Promise<void> {
  const pair = await generatePair();
  await writeOnce(file, new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey)));
}

/** The key in `file`, or null when there is no such file. */
export async function readRelayKey(file: string): Promise<RelaySigner | null> {
  let pkcs8: Uint8Array<ArrayBuffer>;
  try {
    pkcs8 = new Uint8Array(await readFile(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const key = await crypto.subtle.importKey('pkcs8', pkcs8, ED25519, true, ['sign']);
    return await signerFromKey(key);
  } catch (error) {
    throw new LedgerError('ERR_RELAY_KEY', `${file} holds no Ed25519 PKCS#8 key`, { cause: error });
  }
}
