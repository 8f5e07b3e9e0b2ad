// The relay auditing its own database end to end, exactly as an outside auditor does through
// the API (protocol/ledger-audit.ts, the same code): the same pages, so memory stays flat
// however long the chain grows, and so a database edited without the relay's key fails here
// the way it fails on the leaderboard. Before that, whether this relay's key is the ledger's
// at all: several relays on one database must share one key, and a wrong or retired key file
// deserves its own message rather than a chain failure at some height.

import { MAX_LEDGER_PAGE } from '../../protocol/ledger-api.ts';
import { auditLedger } from '../../protocol/ledger-audit.ts';
import type { ChainCheck } from '../../protocol/ledger-chain.ts';
import type { LedgerEntry } from '../../protocol/ledger-entry.ts';
import type { KeyRotation } from '../../protocol/ledger-keys.ts';
import { type LedgerHead, verifyHead } from '../../protocol/ledger-signatures.ts';
import { LedgerError } from './errors.ts';

/** The reads the audit needs; the Ledger provides them (a cycle-free view of it). */
export interface LedgerReads {
  entriesAfter(height: number, limit: number): Promise<LedgerEntry[]>;
  head(): Promise<LedgerHead | null>;
  signedRounds(after: number, limit: number): Promise<{ seq: number; metadata: unknown; head: unknown }[]>;
  rotations(): Promise<KeyRotation[]>;
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
      rotations: () => ledger.rotations(),
    },
    { pageSize: MAX_LEDGER_PAGE },
  );
  return audit.ok ? { ok: true, height: audit.height, hash: audit.hash } : audit;
}

/**
 * Throws unless the whole ledger verifies with `relayPublicKey` as the key in force:
 * ERR_RELAY_KEY_RETIRED or ERR_RELAY_KEY_MISMATCH when the key is not the ledger's, else
 * ERR_LEDGER_BROKEN naming the height and reason of the first failure.
 */
export async function assertLedgerIntact(ledger: LedgerReads, relayPublicKey: string): Promise<void> {
  await assertLedgersKey(ledger, relayPublicKey);
  const check = await verifyLedger(ledger, relayPublicKey);
  if (!check.ok) {
    throw new LedgerError(
      'ERR_LEDGER_BROKEN',
      `the ledger fails verification at height ${check.height}: ${check.reason} (${check.detail}); ` +
        'refusing to serve it. Restore the database from a backup, or start a new one',
    );
  }
}

const COPY_OR_ROTATE =
  "copy relay-key.pkcs8 from the relay that made the ledger, or rotate (npm run relay-key -- rotate on that relay's state folder)";

/**
 * Whether `key` is the one the ledger is in the hands of: the last rotation's new key or, with
 * no rotation, the key of its heads. Without rotations the ledger names no key, so the newest
 * and the oldest head are tried: a tampered head fails one of them and is left to the audit,
 * a foreign key fails both.
 */
async function assertLedgersKey(ledger: LedgerReads, key: string): Promise<void> {
  const rotations = await ledger.rotations();
  const last = rotations.at(-1);
  if (last) {
    if (last.toKey === key) return;
    const retired = rotations.find((r) => r.fromKey === key);
    if (retired)
      throw new LedgerError(
        'ERR_RELAY_KEY_RETIRED',
        `this relay's key ${key} was retired at height ${retired.height}, when the ledger was handed to ` +
          `${retired.toKey}; the ledger's key is now ${last.toKey}. Start with the relay-key.pkcs8 of the ` +
          'relay that rotated it (an interrupted rotation is finished by running npm run relay-key -- rotate again)',
      );
    throw new LedgerError(
      'ERR_RELAY_KEY_MISMATCH',
      `this relay's key ${key} is not the ledger's (${last.toKey}): ${COPY_OR_ROTATE}`,
    );
  }
  const newest = await ledger.head();
  if (!newest || (await verifyHead(newest, key))) return;
  const [oldest] = await ledger.signedRounds(0, 1);
  if (oldest?.head && (await verifyHead(oldest.head, key))) return;
  throw new LedgerError(
    'ERR_RELAY_KEY_MISMATCH',
    `this relay's key ${key} is not the ledger's: ${COPY_OR_ROTATE}`,
  );
}
