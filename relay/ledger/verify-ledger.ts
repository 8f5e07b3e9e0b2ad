// The relay auditing its own database end to end, exactly as an outside auditor does through
// the API (protocol/ledger-audit.ts, the same code): the same pages, so memory stays flat
// however long the chain grows, and so a database edited without the relay's key fails here
// the way it fails on the leaderboard.

import { MAX_LEDGER_PAGE } from '../../protocol/ledger-api.ts';
import { auditLedger } from '../../protocol/ledger-audit.ts';
import type { ChainCheck } from '../../protocol/ledger-chain.ts';
import type { LedgerEntry } from '../../protocol/ledger-entry.ts';
import type { LedgerHead } from '../../protocol/ledger-signatures.ts';
import { LedgerError } from './errors.ts';

/** The reads the audit needs; the Ledger provides them (a cycle-free view of it). */
export interface LedgerReads {
  entriesAfter(height: number, limit: number): Promise<LedgerEntry[]>;
  head(): Promise<LedgerHead | null>;
  signedRounds(after: number, limit: number): Promise<{ seq: number; metadata: unknown; head: unknown }[]>;
}

export async function verifyLedger(ledger: LedgerReads, relayPublicKey: string): Promise<ChainCheck> {
  const audit = await auditLedger(
    {
      relayKey: relayPublicKey,
      // The head is read after the entries, as the /api/ledger route does.
      entries: async (after, limit) => {
        const entries = await ledger.entriesAfter(after, limit);
        return { entries, head: await ledger.head() };
      },
      rounds: (after, limit) => ledger.signedRounds(after, limit),
    },
    { pageSize: MAX_LEDGER_PAGE },
  );
  return audit.ok ? { ok: true, height: audit.height, hash: audit.hash } : audit;
}

/** Throws ERR_LEDGER_BROKEN naming the height and reason unless the whole ledger verifies. */
export async function assertLedgerIntact(ledger: LedgerReads, relayPublicKey: string): Promise<void> {
  const check = await verifyLedger(ledger, relayPublicKey);
  if (!check.ok) {
    throw new LedgerError(
      'ERR_LEDGER_BROKEN',
      `the ledger fails verification at height ${check.height}: ${check.reason} (${check.detail}); ` +
        'refusing to serve it. Restore the database from a backup, or start a new one',
    );
  }
}
