// Auditing the whole ledger from the browser: page through /api/ledger from height 0,
// re-hash and re-link every entry (protocol/ledger-chain.ts), and check that the chain holds
// the hash the relay's signed head names at that height. A relay that rewrote any entry, or
// served a different history from the one it signed, fails here at the first bad height.

import { type LedgerPageBody, MAX_LEDGER_PAGE } from '../../../protocol/ledger-api.ts';
import { type ChainCheck, verifyChainSegment } from '../../../protocol/ledger-chain.ts';
import { GENESIS_HASH, parseLedgerEntry } from '../../../protocol/ledger-entry.ts';
import { verifyHead } from '../../../protocol/ledger-signatures.ts';

export type ChainAuditFailure = Extract<ChainCheck, { ok: false }>;

export type ChainAudit =
  | {
      readonly ok: true;
      /** The last height checked, and its hash. */
      readonly height: number;
      readonly hash: string;
      /** The signed head the chain was matched against; null while the ledger is empty. */
      readonly head: { readonly height: number; readonly round: number } | null;
    }
  | ChainAuditFailure;

export interface ChainAuditOptions {
  /** One page of the ledger after `after`. */
  readonly page: (after: number, limit: number) => Promise<LedgerPageBody>;
  /** Called after each page with the height checked so far. */
  readonly onProgress?: (height: number) => void;
  readonly pageSize?: number;
}

export async function auditChain(options: ChainAuditOptions): Promise<ChainAudit> {
  const pageSize = options.pageSize ?? MAX_LEDGER_PAGE;
  // The head as of the first page: later pages may run past it as rounds commit meanwhile.
  const first = await options.page(0, pageSize);
  const { head, relayKey } = first;
  if (head && !(await verifyHead(head, relayKey))) {
    return failed(head.height, 'the signed head does not verify against the relay key');
  }
  let height = 0;
  let hash = GENESIS_HASH;
  let headSeen = head === null;
  for (let page = first; ; page = await options.page(height, pageSize)) {
    const check = await verifyChainSegment(page.entries, hash, height);
    if (!check.ok) return check;
    if (head && !headSeen) {
      const atHead = page.entries.map(parseLedgerEntry).find((entry) => entry?.height === head.height);
      if (atHead) {
        if (atHead.hash !== head.hash) {
          return failed(head.height, `the chain has ${atHead.hash} where the signed head says ${head.hash}`);
        }
        headSeen = true;
      }
    }
    height = check.height;
    hash = check.hash;
    options.onProgress?.(height);
    if (page.entries.length < pageSize) break;
  }
  if (head && !headSeen) {
    return failed(head.height, `the chain ends at height ${height}, before the signed head`);
  }
  return { ok: true, height, hash, head: head ? { height: head.height, round: head.round } : null };
}

function failed(height: number, detail: string): ChainAuditFailure {
  return { ok: false, height, reason: 'ERR_CHAIN_HEAD', detail };
}
