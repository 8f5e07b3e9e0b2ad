// What an auditor checks of a relay's ledger through its public routes: the whole chain from
// `/api/ledger` links and hashes, the head is signed by the relay's key, no volunteer is
// credited twice for a round, and every receipt a volunteer holds verifies and is in the chain,
// each exactly once.
import { expect } from 'vitest';
import { verifyChainSegment } from '../../protocol/ledger-chain.ts';
import { GENESIS_HASH } from '../../protocol/ledger-entry.ts';
import { type Receipt, verifyHead, verifyReceipt } from '../../protocol/ledger-signatures.ts';

export interface AuditedEntry {
  readonly hash: string;
  readonly peerKey: string;
  readonly round: number;
  readonly height: number;
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
  // No credit twice: one entry per (peer, round).
  const keys = entries.map((e) => `${e.peerKey}:${e.round}`);
  expect(new Set(keys).size).toBe(keys.length);
  const byHash = new Map(entries.map((e) => [e.hash, e]));
  for (const receipt of receipts) {
    expect(await verifyReceipt(receipt, relayKey)).toBe(true);
    expect(byHash.get(receipt.entry.hash)).toEqual(receipt.entry);
  }
  return entries;
}
