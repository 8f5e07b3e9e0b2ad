// What an auditor checks of a relay's ledger through its public routes: the whole chain from
// `/api/ledger` links and hashes, the head is signed by the relay's key, the leaderboard's
// whole-ledger audit passes, no volunteer is credited twice for a round, and every receipt a
// volunteer holds verifies and is in the chain, each exactly once.
import { expect } from 'vitest';
import { verifyChainSegment } from '../../protocol/ledger-chain.ts';
import { GENESIS_HASH } from '../../protocol/ledger-entry.ts';
import { type Receipt, verifyHead, verifyReceipt } from '../../protocol/ledger-signatures.ts';
import { auditChain } from '../../web/src/leaderboard/chain-audit.ts';
import { PublicApi } from '../../web/src/leaderboard/public-api.ts';

export interface AuditedEntry {
  readonly hash: string;
  readonly peerKey: string;
  readonly round: number;
  readonly height: number;
  readonly kind: string;
}

/** Walks the chain, checks it and `receipts` against it; returns its entries. */
export async function auditLedger(url: string, receipts: readonly Receipt[]): Promise<AuditedEntry[]> {
  const entries: AuditedEntry[] = [];
  let after = 0;
  let prevHash = GENESIS_HASH;
  let relayKey = '';
  let head: unknown = null;
  for (;;) {
    const page = (await (await fetch(`${url}/api/ledger?after=${after}&limit=1000`)).json()) as {
      relayKey: string;
      head: unknown;
      entries: AuditedEntry[];
    };
    relayKey = page.relayKey;
    head = page.head;
    if (page.entries.length === 0) break;
    const check = await verifyChainSegment(page.entries, prevHash, after === 0 ? undefined : after);
    expect(check).toMatchObject({ ok: true });
    if (check.ok) prevHash = check.hash;
    entries.push(...page.entries);
    after = (page.entries[page.entries.length - 1] as AuditedEntry).height;
  }
  expect(await verifyHead(head, relayKey)).toBe(true);
  // The whole-ledger audit the leaderboard runs: every round signed over its metadata.
  const api = new PublicApi((path) => fetch(`${url}${path}`).then((r) => r.json()));
  const audit = await auditChain({
    page: (a, l) => api.ledger(a, l),
    rounds: (a, l) => api.rounds(a, l),
    keys: () => api.keys(),
  });
  expect(audit).toMatchObject({ ok: true });
  // No credit twice: one credit entry per (peer, round).
  const keys = entries.filter((e) => e.kind.startsWith('credit-')).map((e) => `${e.peerKey}:${e.round}`);
  expect(new Set(keys).size).toBe(keys.length);
  const byHash = new Map(entries.map((e) => [e.hash, e]));
  for (const receipt of receipts) {
    expect(await verifyReceipt(receipt, relayKey)).toBe(true);
    expect(byHash.get(receipt.entry.hash)).toEqual(receipt.entry);
  }
  return entries;
}
