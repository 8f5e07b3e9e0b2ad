// One entry of the credit ledger (docs/ARCHITECTURE.md, "Credits"): a credit, a settlement of
// earlier credit, or a ban, in one committed round, chained to the entry before it by hash so
// that nobody, the relay included, can rewrite history without every later hash changing.
// The relay, the browser and any auditor compute the hash from the same canonical text,
// defined here. What the relay signs about entries is in ledger-signatures.ts; checking a
// stretch of the chain is in ledger-chain.ts, the whole ledger in ledger-audit.ts.
//
// Canonical text, UTF-8, fields joined by '|' in this order; its hex SHA-256 is the hash:
//
//   potluck-ledger-v2|height|prevHash|kind|runId|round|peerKey|tokens|flops|modelHash|reason|createdAt
//
// v2 (this version) added `kind` and `reason`; v1 ledgers are not migrated (relay/ledger/
// schema.ts refuses a v1 database that holds rounds). `relay-key` came later within v2: the
// text is unchanged, so every earlier entry keeps its hash (an older auditor refuses the new
// kind as malformed rather than misreading it). The kinds:
//
//   credit-verified     work the relay checked in this round
//   credit-provisional  work accepted unchecked; it stays provisional until settled
//   verify              a later check passed: the peer's unsettled provisional credit in this
//                       run becomes verified; tokens/flops are that amount
//   forfeit             a check failed: that unsettled credit is lost; tokens/flops the amount
//   ban                 the identity is banned from the run, and the verified credit it held in
//                       the run is void; tokens/flops that amount
//   relay-key           the relay's signing key changed (ledger-keys.ts): peerKey is the new key,
//                       runId/round/modelHash the last round committed before the change;
//                       tokens and flops 0, reason ''. It credits nobody and belongs to no
//                       round's head: the outgoing and the incoming key both sign it, beside it
//
// Integers are written in decimal without leading zeros; flops is an exact integer (it
// outgrows 2^53). No field may contain '|' (the schemas below make sure), so two entries
// never share a text.

import * as v from 'valibot';
import { sha256Hex } from './sha256.ts';

export const LEDGER_ENTRY_VERSION = 'potluck-ledger-v2';
/** prevHash of the first entry, and the hash a head at height 0 names. */
export const GENESIS_HASH = '0'.repeat(64);
/** rounds.round is a Postgres int. */
export const MAX_ROUND = 2 ** 31 - 1;
/** Longest reason an entry keeps: a line for a human, not a log. */
export const MAX_REASON = 200;

export const ENTRY_KINDS = [
  'credit-verified',
  'credit-provisional',
  'verify',
  'forfeit',
  'ban',
  'relay-key',
] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];
/** Kinds that move a peer's credit or standing in a run: every kind but a key change. */
export type PeerEntryKind = Exclude<EntryKind, 'relay-key'>;
/** Kinds that credit work done in the entry's own round (and get a receipt). */
export const CREDIT_KINDS: readonly EntryKind[] = ['credit-verified', 'credit-provisional'];

/** Run ids name runs in URLs and in the canonical text: short, and no '|' or ':'. */
export const RunId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,128}$/));
export const Sha256Hex = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));
/** A raw 32-byte Ed25519 public key in base64url: 43 characters, the last one 4 bits. */
export const PublicKeyText = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/));
/** An exact non-negative integer as decimal text: JSON has no bigint. */
export const IntegerText = v.pipe(v.string(), v.regex(/^(0|[1-9][0-9]{0,59})$/));
/** Date.prototype.toISOString() of a date between years 0 and 9999. */
export const IsoTime = v.pipe(v.string(), v.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/));
/**
 * Text a database stores and hands back unchanged: no lone surrogate (UTF-8 cannot hold one)
 * and no NUL (Postgres text refuses it), so what was hashed is what is read back.
 */
export const StorableText = (max: number) =>
  v.pipe(
    v.string(),
    v.maxLength(max),
    v.check((text) => !/\p{Cs}/u.test(text) && !text.includes('\0'), 'no lone surrogates or NUL'),
  );
/** Why a settlement or a ban happened; no '|', which separates fields. */
export const ReasonText = v.pipe(
  StorableText(MAX_REASON),
  v.check((text) => !text.includes('|'), "a reason has no '|'"),
);
const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

export const LedgerEntrySchema = v.pipe(
  v.object({
    /** 1 for the first entry, then +1 each. */
    height: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
    prevHash: Sha256Hex,
    hash: Sha256Hex,
    kind: v.picklist(ENTRY_KINDS),
    runId: RunId,
    round: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_ROUND)),
    /** The peer credited, settled or banned; for a relay-key entry, the relay's new key. */
    peerKey: PublicKeyText,
    /** Training tokens the relay assigned and counted (or settled). */
    tokens: Count,
    /** 6 x parameters x tokens, exact; credits are creditsOf(flops) (credits.ts). */
    flops: IntegerText,
    /** Hash of the weights the round committed (protocol/model-hash.ts). */
    modelHash: Sha256Hex,
    /** Why, for settlements and bans; '' for credits. */
    reason: ReasonText,
    createdAt: IsoTime,
  }),
);

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
    e.kind,
    e.runId,
    e.round,
    e.peerKey,
    e.tokens,
    e.flops,
    e.modelHash,
    e.reason,
    e.createdAt,
  ].join('|');
}

/** Hex SHA-256 of the entry's canonical text; the stored `hash` field plays no part. */
export async function entryHash(entry: LedgerEntryContent): Promise<string> {
  return sha256Hex(new TextEncoder().encode(canonicalEntryText(entry)));
}
