// Auditing a whole ledger, the same way wherever it runs: the relay at start-up reading its
// own database (relay/ledger/verify-ledger.ts) and the leaderboard reading the public API
// (web/src/leaderboard/chain-audit.ts). Database credentials alone cannot make a ledger pass:
//
//   0. the key rotations (ledger-keys.ts) are each signed by both their keys and lead to the
//      key the relay signs with now: they say which key was in force at each height;
//   1. every committed round has a head signed by the key in force at the height it names,
//      and that head's metadata digest is the digest of the round's metadata as stored
//      (round-metadata.ts);
//   2. the chain re-hashes and links from genesis (ledger-chain.ts), and holds at every
//      signed height the hash the head there names, and each rotation's entry at its height;
//   3. no entry lies above the head of its own round, and the chain's tip is the newest
//      signed head (or, above it, only rotations, which their keys sign): an entry appended
//      without the relay's key has no head to cover it.
//
// Deleting a round with its entries and heads from the top of the chain is the one edit
// left; only someone who kept a newer head can tell (head-watch.ts).
import * as v from 'valibot';
import type { RoundsPageBody } from './ledger-api.ts';
import { type ChainCheck, type ChainFailureCode, verifyChainSegment } from './ledger-chain.ts';
import { GENESIS_HASH, type LedgerEntry, parseLedgerEntry } from './ledger-entry.ts';
import { followRotations, type KeySchedule, keyAt } from './ledger-keys.ts';
import { LedgerHeadSchema, verifyHead } from './ledger-signatures.ts';
import { parseRoundMetadata, roundMetadataDigest } from './round-metadata.ts';

export type LedgerAuditFailure = Extract<ChainCheck, { ok: false }>;

export type LedgerAudit =
  | {
      readonly ok: true;
      /** The chain's tip, which is also the newest signed head's height, and its hash. */
      readonly height: number;
      readonly hash: string;
      /** The newest signed head; null while nothing was committed. */
      readonly head: { readonly height: number; readonly runId: string; readonly round: number } | null;
      /** Committed rounds whose head and metadata were checked. */
      readonly rounds: number;
      /** Which key signed at which height. */
      readonly keys: KeySchedule;
    }
  | LedgerAuditFailure;

/** What an audit reads; each side implements it over its own access to the ledger. */
export interface LedgerSource {
  /**
   * The key the relay signs with now: the last rotation must hand over to it (with none, it
   * signed every head).
   */
  readonly relayKey: string;
  /**
   * Up to `limit` entries above `after`, and the newest signed head read AFTER them (so a
   * commit landing between the two reads can only put the head ahead of the entries).
   */
  entries(
    after: number,
    limit: number,
  ): Promise<{ readonly entries: readonly unknown[]; readonly head: unknown }>;
  /** Up to `limit` committed rounds with their heads, after the round record `after` (0 first). */
  rounds(after: number, limit: number): Promise<RoundsPageBody['rounds']>;
  /** Every key rotation (ledger-keys.ts), in height order: a few, one per operator's rotation. */
  rotations(): Promise<readonly unknown[]>;
}

export interface LedgerAuditOptions {
  readonly pageSize: number;
  /** Called after each page of entries with the height checked so far. */
  readonly onProgress?: (height: number) => void;
  /**
   * The key the auditor trusted before it looked (kept from an earlier visit, or published by
   * the operator): the chain's first key must be it. Unset, the first key is whatever the
   * rotations lead back to from relayKey.
   */
  readonly firstKey?: string;
}

const roundKey = (runId: string, round: number) => `${runId}:${round}`;

export async function auditLedger(source: LedgerSource, options: LedgerAuditOptions): Promise<LedgerAudit> {
  const followed = await followRotations(await source.rotations(), source.relayKey, options.firstKey);
  if (!followed.ok) return fail(followed.height, 'ERR_CHAIN_KEY', followed.detail);
  const keys = followed.schedule;
  const signed = await readSignedRounds(source, options.pageSize, keys);
  if (!signed.ok) return signed;
  const { headHeights, hashAt, unsigned, maxSigned } = signed;

  let height = 0;
  let hash = GENESIS_HASH;
  let newest: unknown = null;
  let rotationsMet = 0;
  // The last entry that is not a rotation, and the hashes from it to the tip: only rotations
  // may lie above the newest head, and that head must name one of these.
  let lastOrdinary = 0;
  let trailing = new Map<number, string>([[0, GENESIS_HASH]]);
  for (;;) {
    const page = await source.entries(height, options.pageSize);
    const check = await verifyChainSegment(page.entries, hash, height);
    if (!check.ok) return check;
    for (const input of page.entries) {
      // Already checked by verifyChainSegment: well formed, and its hash is its content's.
      const entry = parseLedgerEntry(input);
      if (!entry) return fail(height + 1, 'ERR_CHAIN_MALFORMED', 'not a well-formed ledger entry');
      if (entry.kind === 'relay-key') {
        const problem = rotationProblem(entry, keys, headHeights, hashAt);
        if (problem) return problem;
        rotationsMet++;
        trailing.set(entry.height, entry.hash);
        continue;
      }
      lastOrdinary = entry.height;
      trailing = new Map([[entry.height, entry.hash]]);
      const key = roundKey(entry.runId, entry.round);
      const headHeight = headHeights.get(key);
      if (headHeight === undefined && (unsigned.has(key) || entry.height <= maxSigned)) {
        return fail(
          entry.height,
          'ERR_CHAIN_NO_HEAD',
          `round ${entry.round} of ${entry.runId} has no signed head`,
        );
      }
      if (headHeight !== undefined && entry.height > headHeight) {
        return fail(
          entry.height,
          'ERR_CHAIN_UNSIGNED',
          `the entry lies above height ${headHeight}, where the head of its round ${entry.round} signed the chain`,
        );
      }
      const expected = hashAt.get(entry.height);
      if (expected !== undefined && expected !== entry.hash) {
        return fail(
          entry.height,
          'ERR_CHAIN_HEAD',
          `the chain has ${entry.hash} where a signed head says ${expected}`,
        );
      }
    }
    height = check.height;
    hash = check.hash;
    newest = page.head;
    options.onProgress?.(height);
    if (page.entries.length === options.pageSize) continue;
    // A round committed while we paged puts the newest head above what we read: read on.
    const newestHeight = v.is(LedgerHeadSchema, newest) ? newest.height : 0;
    if (newestHeight > height && page.entries.length > 0) continue;
    break;
  }

  const missing = keys.changes[rotationsMet];
  if (missing !== undefined) {
    return fail(missing.height, 'ERR_CHAIN_KEY', 'a key rotation names an entry the chain lacks');
  }
  const [firstUnsigned] = unsigned;
  if (firstUnsigned !== undefined) {
    return fail(0, 'ERR_CHAIN_NO_HEAD', `round ${firstUnsigned} was committed with no signed head`);
  }
  if (newest === null) {
    if (height > 0) return fail(1, 'ERR_CHAIN_UNSIGNED', 'the chain has entries but no signed head');
    return { ok: true, height, hash, head: null, rounds: headHeights.size, keys };
  }
  const parsed = v.safeParse(LedgerHeadSchema, newest);
  if (!parsed.success || !(await verifyHead(parsed.output, keyAt(keys, parsed.output.height)))) {
    return fail(
      parsed.success ? parsed.output.height : 0,
      'ERR_CHAIN_HEAD',
      'the newest head does not verify against the relay key in force at its height',
    );
  }
  const head = parsed.output;
  // Above the newest head there may be rotations (each signed by its own two keys), no more.
  if (head.height < lastOrdinary) {
    return fail(
      head.height + 1,
      'ERR_CHAIN_UNSIGNED',
      `entries above the newest signed head at height ${head.height}`,
    );
  }
  if (head.height > height) {
    return fail(head.height, 'ERR_CHAIN_HEAD', `the chain ends at height ${height}, before the signed head`);
  }
  const named = trailing.get(head.height);
  if (head.hash !== named) {
    return fail(
      head.height,
      'ERR_CHAIN_HEAD',
      `the chain has ${named} where the newest signed head says ${head.hash}`,
    );
  }
  return {
    ok: true,
    height,
    hash,
    head: { height: head.height, runId: head.runId, round: head.round },
    rounds: headHeights.size,
    keys,
  };
}

/**
 * A relay-key entry must be the one its rotation's two keys signed, move no credit, and follow
 * a committed round: the round it names is the last one before it, whose head lies below.
 */
function rotationProblem(
  entry: LedgerEntry,
  keys: KeySchedule,
  headHeights: ReadonlyMap<string, number>,
  hashAt: ReadonlyMap<number, string>,
): LedgerAuditFailure | null {
  const change = keys.changes.find((c) => c.height === entry.height);
  if (!change)
    return fail(
      entry.height,
      'ERR_CHAIN_KEY',
      'a relay-key entry no key rotation signs (rotated during the audit? audit again)',
    );
  if (change.hash !== entry.hash)
    return fail(
      entry.height,
      'ERR_CHAIN_KEY',
      `the rotation signed ${change.hash}, the chain has ${entry.hash}`,
    );
  if (change.key !== entry.peerKey)
    return fail(
      entry.height,
      'ERR_CHAIN_KEY',
      `the entry names ${entry.peerKey}, its rotation ${change.key}`,
    );
  if (entry.tokens !== 0 || entry.flops !== '0' || entry.reason !== '')
    return fail(entry.height, 'ERR_CHAIN_KEY', 'a relay-key entry moves no credit and gives no reason');
  const followed = headHeights.get(roundKey(entry.runId, entry.round));
  if (followed === undefined || followed >= entry.height)
    return fail(
      entry.height,
      'ERR_CHAIN_KEY',
      `round ${entry.round} of ${entry.runId}, which the rotation follows, has no signed head below it`,
    );
  const expected = hashAt.get(entry.height);
  if (expected !== undefined && expected !== entry.hash)
    return fail(
      entry.height,
      'ERR_CHAIN_HEAD',
      `the chain has ${entry.hash} where a signed head says ${expected}`,
    );
  return null;
}

interface SignedRounds {
  readonly ok: true;
  /** Each signed round's head height. */
  readonly headHeights: Map<string, number>;
  /** The hash signed heads name at each height. */
  readonly hashAt: Map<number, string>;
  /** Rounds committed with no head. */
  readonly unsigned: Set<string>;
  readonly maxSigned: number;
}

/** Step 1: every round's head verifies (by the key in force) and signs the round's metadata as stored. */
async function readSignedRounds(
  source: LedgerSource,
  pageSize: number,
  keys: KeySchedule,
): Promise<SignedRounds | LedgerAuditFailure> {
  const headHeights = new Map<string, number>();
  const hashAt = new Map<number, string>([[0, GENESIS_HASH]]);
  const unsigned = new Set<string>();
  let maxSigned = 0;
  for (let after = 0; ; ) {
    const page = await source.rounds(after, pageSize);
    for (const row of page) {
      const metadata = parseRoundMetadata(row.metadata);
      if (!metadata)
        return fail(0, 'ERR_CHAIN_MALFORMED', `round record ${row.seq} is not well-formed round metadata`);
      const key = roundKey(metadata.runId, metadata.round);
      if (row.head === null) {
        unsigned.add(key);
        continue;
      }
      const parsed = v.safeParse(LedgerHeadSchema, row.head);
      if (!parsed.success)
        return fail(0, 'ERR_CHAIN_HEAD', `the head of round ${key} is not a well-formed head`);
      const head = parsed.output;
      if (head.runId !== metadata.runId || head.round !== metadata.round) {
        return fail(
          head.height,
          'ERR_CHAIN_HEAD',
          `round ${key} carries the head of round ${head.round} of ${head.runId}`,
        );
      }
      const signer = keyAt(keys, head.height);
      if (!(await verifyHead(head, signer))) {
        return fail(
          head.height,
          'ERR_CHAIN_HEAD',
          `the head of round ${key} does not verify against ${signer}, the relay key in force at height ${head.height}`,
        );
      }
      if ((await roundMetadataDigest(metadata)) !== head.metadataDigest) {
        return fail(
          head.height,
          'ERR_CHAIN_METADATA',
          `round ${key}: its metadata is not what its head signed`,
        );
      }
      const known = hashAt.get(head.height);
      if (known !== undefined && known !== head.hash) {
        return fail(head.height, 'ERR_CHAIN_HEAD', `signed heads name two hashes at height ${head.height}`);
      }
      hashAt.set(head.height, head.hash);
      headHeights.set(key, head.height);
      maxSigned = Math.max(maxSigned, head.height);
    }
    const last = page.at(-1);
    if (page.length < pageSize || !last) break;
    after = last.seq;
  }
  return { ok: true, headHeights, hashAt, unsigned, maxSigned };
}

function fail(height: number, reason: ChainFailureCode, detail: string): LedgerAuditFailure {
  return { ok: false, height, reason, detail };
}
