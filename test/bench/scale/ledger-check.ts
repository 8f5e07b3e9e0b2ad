// What bench:scale's failover counts as lost or doubled credit, read as an auditor reads it: the
// whole ledger through a surviving relay's public route (GET /api/ledger, page by page, each
// page's links and hashes checked), then every receipt the volunteers hold looked up in it by
// its entry's hash. A receipt is credit the relay acknowledged; one missing from the ledger is
// credit lost. A second credit entry for one volunteer and round is credit doubled.
import { MAX_LEDGER_PAGE } from '../../../protocol/ledger-api.ts';
import { verifyChainSegment } from '../../../protocol/ledger-chain.ts';
import { GENESIS_HASH } from '../../../protocol/ledger-entry.ts';
import type { Receipt } from '../../../protocol/ledger-signatures.ts';

interface Entry {
  readonly height: number;
  readonly hash: string;
  readonly kind: string;
  readonly peerKey: string;
  readonly round: number;
}

export interface LedgerRead {
  readonly entries: readonly Entry[];
  /** Null when every page linked and hashed; else why not, at which height. */
  readonly chainFailure: string | null;
}

export async function readLedger(url: string): Promise<LedgerRead> {
  const entries: Entry[] = [];
  let prevHash = GENESIS_HASH;
  let after = 0;
  for (;;) {
    const response = await fetch(`${url}/api/ledger?after=${after}&limit=${MAX_LEDGER_PAGE}`);
    if (!response.ok) throw new Error(`${url}/api/ledger?after=${after}: HTTP ${response.status}`);
    const page = (await response.json()) as { entries: Entry[] };
    if (page.entries.length === 0) return { entries, chainFailure: null };
    const check = await verifyChainSegment(page.entries, prevHash, after === 0 ? undefined : after);
    if (!check.ok) return { entries, chainFailure: `${check.reason} at height ${check.height}` };
    prevHash = check.hash;
    entries.push(...page.entries);
    after = (page.entries[page.entries.length - 1] as Entry).height;
  }
}

export interface CreditCheck {
  /** Receipts (distinct entries) looked up. */
  readonly receipts: number;
  /** Of them, not in the ledger. */
  readonly missing: number;
  /** Credit entries beyond the first for one volunteer and round. */
  readonly doubled: number;
}

export function checkCredits(ledger: LedgerRead, receipts: readonly Receipt[]): CreditCheck {
  const hashes = new Set(ledger.entries.map((e) => e.hash));
  const held = new Set(receipts.map((r) => r.entry.hash));
  const credits = ledger.entries
    .filter((e) => e.kind.startsWith('credit-'))
    .map((e) => `${e.peerKey}:${e.round}`);
  return {
    receipts: held.size,
    missing: [...held].filter((hash) => !hashes.has(hash)).length,
    doubled: credits.length - new Set(credits).size,
  };
}
