// Checking a stretch of the ledger as an auditor pages through it (`/api/ledger?after=`):
// every entry well formed, heights consecutive, each entry's prevHash the hash of the one
// before, and each hash recomputed from the entry's content. A segment that passes, chained
// onto a hash the auditor already trusts (a signed head, or the genesis hash), is the
// relay's true history up to its last entry.
import { entryHash, parseLedgerEntry } from './ledger-entry.ts';

export type ChainFailureCode =
  | 'ERR_CHAIN_MALFORMED' // an entry is not a well-formed ledger entry
  | 'ERR_CHAIN_HEIGHT' // heights skip or repeat
  | 'ERR_CHAIN_LINK' // prevHash is not the hash of the entry before
  | 'ERR_CHAIN_HASH' // the stated hash is not the hash of the entry's content
  | 'ERR_CHAIN_HEAD' // a signed head does not verify or names a hash the chain lacks
  | 'ERR_CHAIN_UNSIGNED' // entries beyond the head that signed their round, or the newest head
  | 'ERR_CHAIN_NO_HEAD' // a committed round (or an entry's round) has no signed head
  | 'ERR_CHAIN_METADATA' // a round's metadata is not what its signed head's digest says
  | 'ERR_CHAIN_KEY'; // a key rotation is not signed by both its keys, or not the chain's (ledger-keys.ts)

export type ChainCheck =
  | { readonly ok: true; readonly height: number; readonly hash: string }
  | {
      readonly ok: false;
      /** The height of the first entry (or head) that failed. */
      readonly height: number;
      readonly reason: ChainFailureCode;
      readonly detail: string;
    };

/**
 * Checks `entries` in order as the continuation of a chain whose last hash is
 * `expectedPrevHash` (GENESIS_HASH for the start) and, when given, whose last height is
 * `afterHeight`. On success returns the last height and hash, to carry into the next page.
 * Never throws on malformed input.
 */
export async function verifyChainSegment(
  entries: readonly unknown[],
  expectedPrevHash: string,
  afterHeight?: number,
): Promise<ChainCheck> {
  if (!Array.isArray(entries)) return fail(0, 'ERR_CHAIN_MALFORMED', 'not a list of entries');
  let prevHash = expectedPrevHash;
  let prevHeight = afterHeight;
  for (const input of entries) {
    const expectedHeight = prevHeight === undefined ? undefined : prevHeight + 1;
    const entry = parseLedgerEntry(input);
    if (!entry) {
      return fail(expectedHeight ?? 0, 'ERR_CHAIN_MALFORMED', 'not a well-formed ledger entry');
    }
    if (expectedHeight !== undefined && entry.height !== expectedHeight) {
      return fail(entry.height, 'ERR_CHAIN_HEIGHT', `expected height ${expectedHeight}`);
    }
    if (entry.prevHash !== prevHash) {
      return fail(entry.height, 'ERR_CHAIN_LINK', `prevHash ${entry.prevHash} after ${prevHash}`);
    }
    const hash = await entryHash(entry);
    if (hash !== entry.hash) {
      return fail(entry.height, 'ERR_CHAIN_HASH', `content hashes to ${hash}, entry says ${entry.hash}`);
    }
    prevHash = hash;
    prevHeight = entry.height;
  }
  return { ok: true, height: prevHeight ?? 0, hash: prevHash };
}

function fail(height: number, reason: ChainFailureCode, detail: string): ChainCheck {
  return { ok: false, height, reason, detail };
}
