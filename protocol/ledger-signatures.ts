// What the relay signs about its ledger, and how anyone checks it with the relay's public
// Ed25519 key: a receipt per credit entry (handed to the peer it credits) and a head per
// committed round, credited or not (published, so an auditor holding any later head can tell
// whether the history it downloads is the one the relay vouched for). A head names the chain
// tip when its round committed (height 0 and GENESIS_HASH while the chain is empty) and the
// digest of the round's metadata (round-metadata.ts), so loss, shards, names and GPU time are
// vouched for as much as the entries are.
//
// Signed messages, UTF-8; each starts with its own prefix so a signature over one kind can
// never be replayed as the other:
//
//   potluck-ledger-receipt-v1|entryHash
//   potluck-ledger-head-v2|height|hash|runId|round|metadataDigest
//
// v2 added metadataDigest and heads at height 0.
import * as v from 'valibot';
import { verifyEd25519 } from './ed25519-verify.ts';
import { entryHash, LedgerEntrySchema, MAX_ROUND, PublicKeyText, RunId, Sha256Hex } from './ledger-entry.ts';

export const RECEIPT_PREFIX = 'potluck-ledger-receipt-v1';
export const HEAD_PREFIX = 'potluck-ledger-head-v2';

/** A 64-byte Ed25519 signature in base64url: 86 characters, the last one 2 bits. */
export const SignatureText = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{85}[AQgw]$/));

export const ReceiptSchema = v.object({
  entry: LedgerEntrySchema,
  /** The relay's signature over receiptMessage(entry.hash). */
  signature: SignatureText,
  /** The relay's public key, so a peer can tell which relay vouched for it. */
  relayKey: PublicKeyText,
});
export type Receipt = v.InferOutput<typeof ReceiptSchema>;

export const LedgerHeadSchema = v.object({
  /** The chain's tip when the round committed: the chain up to here is what the relay vouches for. */
  height: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  /** The entry hash at `height`; GENESIS_HASH at height 0. */
  hash: Sha256Hex,
  runId: RunId,
  round: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_ROUND)),
  /** roundMetadataDigest of the round (round-metadata.ts). */
  metadataDigest: Sha256Hex,
  /** The relay's signature over headMessage(...). */
  signature: SignatureText,
});
export type LedgerHead = v.InferOutput<typeof LedgerHeadSchema>;
export type UnsignedHead = Omit<LedgerHead, 'signature'>;

export function receiptMessage(hash: string): Uint8Array<ArrayBuffer> {
  return utf8(`${RECEIPT_PREFIX}|${hash}`);
}

export function headMessage(head: UnsignedHead): Uint8Array<ArrayBuffer> {
  return utf8(
    `${HEAD_PREFIX}|${head.height}|${head.hash}|${head.runId}|${head.round}|${head.metadataDigest}`,
  );
}

/**
 * True when `receipt` is well formed, was issued by `relayPublicKey`, its entry hashes to the
 * hash it states, and the signature holds. False for anything else; never throws.
 */
export async function verifyReceipt(receipt: unknown, relayPublicKey: string): Promise<boolean> {
  const parsed = v.safeParse(ReceiptSchema, receipt);
  if (!parsed.success || parsed.output.relayKey !== relayPublicKey) return false;
  const { entry, signature } = parsed.output;
  if ((await entryHash(entry)) !== entry.hash) return false;
  return verifyEd25519(relayPublicKey, signature, receiptMessage(entry.hash));
}

/** True when `head` is well formed and signed by `relayPublicKey`; never throws. */
export async function verifyHead(head: unknown, relayPublicKey: string): Promise<boolean> {
  const parsed = v.safeParse(LedgerHeadSchema, head);
  if (!parsed.success) return false;
  return verifyEd25519(relayPublicKey, parsed.output.signature, headMessage(parsed.output));
}

function utf8(text: string): Uint8Array<ArrayBuffer> {
  // TextEncoder always returns a fresh ArrayBuffer-backed array; the cast only tells TS so.
  return new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;
}
