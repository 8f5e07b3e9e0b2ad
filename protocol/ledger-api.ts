// The relay's public ledger routes as both sides see them (relay/http/ledger-routes.ts builds
// these bodies, typed by the schemas here; the leaderboard parses them with the same schemas).
//
//   GET /api/leaderboard                    LeaderboardBody
//   GET /api/ledger?after=HEIGHT&limit=N    LedgerPageBody: up to N entries above HEIGHT (N is
//                                           cut to 1..MAX_LEDGER_PAGE; the body says which)
//   GET /api/ledger/rounds?after=SEQ&limit=N
//                                           RoundsPageBody: up to N committed rounds after
//                                           the round record SEQ (0 first), each with its
//                                           metadata and signed head (ledger-audit.ts)
//   GET /api/ledger/keys                    KeysBody: every rotation of the relay's key, each
//                                           signed by both its keys (ledger-keys.ts)
//   GET /api/relay                          RelayBody: the key that signs heads and receipts now
import * as v from 'valibot';
import { IntegerText, IsoTime, PublicKeyText, RunId } from './ledger-entry.ts';

/** Most entries one `/api/ledger` page holds; a larger `limit` is cut to this. */
export const MAX_LEDGER_PAGE = 1000;

const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

export const LeaderboardRow = v.object({
  publicKey: PublicKeyText,
  /** The newest name the peer went by in a signed round's metadata; null if none. */
  name: v.nullable(v.string()),
  /** Verified credits for display, creditsOf(verifiedFlops) (credits.ts): the board's order. */
  verifiedCredits: v.pipe(v.number(), v.finite(), v.minValue(0)),
  /** Exact verified FLOPs (credit-verified entries and verify settlements) as decimal text. */
  verifiedFlops: IntegerText,
  /** Provisional credits not settled yet: neither verified nor forfeited so far. */
  provisionalCredits: v.pipe(v.number(), v.finite(), v.minValue(0)),
  provisionalFlops: IntegerText,
  /** Tokens of every credit entry, verified or provisional. */
  tokens: Count,
  /** GPU time the relay measured, summed over the signed metadata of the rounds, milliseconds. */
  gpuMs: v.pipe(v.number(), v.finite(), v.minValue(0)),
  /** ISO time of the last time the peer was seen or credited; null when the relay has no peers row. */
  lastSeen: v.nullable(IsoTime),
  /** Rounds the peer was credited in. */
  rounds: Count,
  /** A ban entry names the peer. */
  banned: v.boolean(),
});
export type LeaderboardRow = v.InferOutput<typeof LeaderboardRow>;

export const LeaderboardBody = v.object({ runId: RunId, rows: v.array(LeaderboardRow) });
export type LeaderboardBody = v.InferOutput<typeof LeaderboardBody>;

/**
 * A head as served, not yet believed: its fields have their types, and verifyHead
 * (ledger-signatures.ts) decides whether the relay's signature holds, so that a bad one is
 * reported as such rather than as an unreadable page.
 */
export const ServedHead = v.object({
  height: v.number(),
  hash: v.string(),
  runId: v.string(),
  round: v.number(),
  metadataDigest: v.string(),
  signature: v.string(),
});

export const LedgerPageBody = v.object({
  relayKey: PublicKeyText,
  /** The limit applied: the one asked for, cut to 1..MAX_LEDGER_PAGE. */
  limit: v.pipe(Count, v.minValue(1), v.maxValue(MAX_LEDGER_PAGE)),
  /** The latest signed head; null while the ledger is empty. */
  head: v.nullable(ServedHead),
  /**
   * Entries in height order. Left unknown here: verifyChainSegment (ledger-chain.ts) checks
   * each, so an auditor learns the height of the first bad one.
   */
  entries: v.pipe(v.array(v.unknown()), v.maxLength(MAX_LEDGER_PAGE)),
});
export type LedgerPageBody = v.InferOutput<typeof LedgerPageBody>;

/**
 * A committed round as served: metadata and head left unknown, because ledger-audit.ts
 * checks them and reports a bad one at its height rather than as an unreadable page.
 */
export const SignedRoundRecord = v.object({
  /** The round record's place in commit order: the cursor for the next page. */
  seq: v.pipe(Count, v.minValue(1)),
  /** RoundMetadata (round-metadata.ts). */
  metadata: v.unknown(),
  /** The round's signed head (LedgerHead); null when the database has none for it. */
  head: v.nullable(v.unknown()),
});

export const RoundsPageBody = v.object({
  relayKey: PublicKeyText,
  limit: v.pipe(Count, v.minValue(1), v.maxValue(MAX_LEDGER_PAGE)),
  rounds: v.pipe(v.array(SignedRoundRecord), v.maxLength(MAX_LEDGER_PAGE)),
});
export type RoundsPageBody = v.InferOutput<typeof RoundsPageBody>;

/**
 * The relay's key now and every rotation that led to it. Rotations are left unknown here, as
 * heads are: ledger-audit.ts checks them and reports a bad one at its height. An operator's
 * rotations are few; the cap only bounds what a client parses.
 */
export const KeysBody = v.object({
  relayKey: PublicKeyText,
  rotations: v.pipe(v.array(v.unknown()), v.maxLength(MAX_LEDGER_PAGE)),
});
export type KeysBody = v.InferOutput<typeof KeysBody>;

export const RelayBody = v.object({ relayKey: PublicKeyText, runId: RunId });
export type RelayBody = v.InferOutput<typeof RelayBody>;
