// One entry of the credit ledger (docs/ARCHITECTURE.md, "Credits"): a peer's verified work in
// one committed round, chained to the entry before it by hash so that nobody, the relay
// included, can rewrite history without every later hash changing. The relay, the browser
// and any auditor compute the hash from the same canonical text, defined here. What the
// relay signs about entries is in ledger-signatures.ts; checking a stretch of the chain is
// in ledger-chain.ts.
//
// Canonical text, UTF-8, fields joined by '|' in this order; its hex SHA-256 is the hash:
//
//   potluck-ledger-v1|height|prevHash|runId|round|peerKey|tokens|flops|modelHash|createdAt
//
// Integers are written in decimal without leading zeros; flops is an exact integer (it
// outgrows 2^53). No field may contain '|' (the schemas below make sure), so two entries
// never share a text.

import * as v from 'valibot';
import { sha256Hex } from './sha256.ts';

export const LEDGER_ENTRY_VERSION = 'potluck-ledger-v1';
/** prevHash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);
/** rounds.round is a Postgres int. */
export const MAX_ROUND = 2 ** 31 - 1;

/** Run ids name runs in URLs and in the canonical text: short, and no '|' or ':'. */
export const RunId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,128}$/));
export const Sha256Hex = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));
/** A raw 32-byte Ed25519 public key in base64url: 43 characters, the last one 4 bits. */
export const PublicKeyText = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/));
/** An exact non-negative integer as decimal text: JSON has no bigint. */
export const IntegerText = v.pipe(v.string(), v.regex(/^(0|[1-9][0-9]{0,59})$/));
/** Date.prototype.toISOString() of a date between years 0 and 9999. */
export const IsoTime = v.pipe(v.string(), v.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/));
const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

export const LedgerEntrySchema = v.object({
  /** 1 for the first entry, then +1 each. */
  height: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  prevHash: Sha256Hex,
  hash: Sha256Hex,
  runId: RunId,
  round: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_ROUND)),
  /** The credited peer. */
  peerKey: PublicKeyText,
  /** Training tokens the relay assigned and counted. */
  tokens: Count,
  /** 6 x parameters x tokens, exact; credits are creditsOf(flops) (credits.ts). */
  flops: IntegerText,
  /** Hash of the weights the round committed (protocol/model-hash.ts). */
  modelHash: Sha256Hex,
  createdAt: IsoTime,
});

export type LedgerEntry = v.InferOutput<typeof LedgerEntrySchema>;
/** An entry before its hash is known. */
export type LedgerEntryContent = Omit<LedgerEntry, 'hash'>;

/** The entry if `input` is a well-formed one (its hash not yet checked), else null. */
export function parseLedgerEntry(input: unknown): LedgerEntry | null {
  const result = v.safeParse(LedgerEntrySchema, input);
  return result.success ? result.output : null;
}

export function canonicalEntryText(e: LedgerEntryContent): string {
  return [
    LEDGER_ENTRY_VERSION,
    e.height,
    e.prevHash,
    e.runId,
    e.round,
    e.peerKey,
    e.tokens,
    e.flops,
    e.modelHash,
    e.createdAt,
  ].join('|');
}

/** Hex SHA-256 of the entry's canonical text; the stored `hash` field plays no part. */
export async function entryHash(entry: LedgerEntryContent): Promise<string> {
  return sha256Hex(new TextEncoder().encode(canonicalEntryText(entry)));
}
