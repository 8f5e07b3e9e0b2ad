// A round's commit record written to the ledger: one transaction with its credits, settlements
// and bans as entries and the names and GPU time in the round's signed metadata. What the
// coordinator gets back is the signed head and a receipt per credited peer.
import type { Ledger } from '../ledger/ledger.ts';
import type { Sql } from '../ledger/sql.ts';
import type { CommitRound } from '../rounds/coordinator.ts';

/** Throws, inside the commit's transaction, when this relay may no longer commit (cluster/leadership.ts). */
export type CommitFence = (tx: Sql) => Promise<void>;

export function ledgerCommit(ledger: Ledger, runId: string, fence?: CommitFence): CommitRound {
  return async (record) => {
    const result = await ledger.commitRound(
      {
        runId,
        round: record.round,
        modelHash: record.modelHash,
        trainLoss: record.trainLoss,
        shards: record.shards.map((s) => [s.start, s.end]),
        credits: record.credits.map(({ peerKey, tokens, flops, status }) => ({
          peerKey,
          tokens,
          flops,
          status,
        })),
        members: record.members,
        settlements: record.settlements,
        bans: record.bans,
      },
      fence,
    );
    return { head: result.head, receipts: new Map(result.receipts.map((r) => [r.entry.peerKey, r])) };
  };
}
