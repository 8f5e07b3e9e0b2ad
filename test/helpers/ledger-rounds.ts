// Which rounds credited whom, read from a relay's public ledger (GET /api/ledger): end-to-end
// tests wait on these, not on wall time, to know that a round counted every volunteer.
import { CREDIT_KINDS, type EntryKind } from '../../protocol/ledger-entry.ts';

/**
 * Rounds after `after` in which every one of `keys` was credited, ascending. Only credit
 * entries count: a round also carries settlements and bans of earlier work (a check forfeited
 * after a relay restart, say), which name a peer the round did not count and send no receipt.
 */
export async function roundsWithAll(url: string, keys: readonly string[], after: number): Promise<number[]> {
  const { entries } = (await (await fetch(`${url}/api/ledger?after=0&limit=1000`)).json()) as {
    entries: { peerKey: string; round: number; kind: EntryKind }[];
  };
  const members = new Map<number, Set<string>>();
  for (const e of entries) {
    if (e.round <= after || !CREDIT_KINDS.includes(e.kind)) continue;
    members.set(e.round, (members.get(e.round) ?? new Set()).add(e.peerKey));
  }
  return [...members]
    .filter(([, peers]) => keys.every((k) => peers.has(k)))
    .map(([round]) => round)
    .sort((a, b) => a - b);
}
