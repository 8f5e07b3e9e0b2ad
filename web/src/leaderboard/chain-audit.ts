// Auditing the whole ledger from the browser through the relay's public API, with the same
// code the relay runs on its own database at start-up (protocol/ledger-audit.ts): every
// round's head signed and covering its metadata, every entry re-hashed and linked, no entry
// beyond the head that signed its round, and the chain's tip the newest head; each head and
// receipt by the key in force at its height, following the relay's key rotations. A relay (or
// anyone with its database) that rewrote or appended anything fails here at the first bad
// height, with a typed reason.

import {
  type KeysBody,
  type LedgerPageBody,
  MAX_LEDGER_PAGE,
  type RoundsPageBody,
} from '../../../protocol/ledger-api.ts';
import { auditLedger, type LedgerAudit } from '../../../protocol/ledger-audit.ts';

export type { LedgerAudit as ChainAudit } from '../../../protocol/ledger-audit.ts';

export interface ChainAuditOptions {
  /** One page of the ledger after `after` (/api/ledger). */
  readonly page: (after: number, limit: number) => Promise<LedgerPageBody>;
  /** One page of committed rounds after the record `after` (/api/ledger/rounds). */
  readonly rounds: (after: number, limit: number) => Promise<RoundsPageBody>;
  /** The relay's key rotations (/api/ledger/keys). */
  readonly keys: () => Promise<KeysBody>;
  /** A key trusted from before (ledger-audit.ts): the chain's first key must be it. */
  readonly firstKey?: string;
  /** Called after each page with the height checked so far. */
  readonly onProgress?: (height: number) => void;
  readonly pageSize?: number;
}

export async function auditChain(options: ChainAuditOptions): Promise<LedgerAudit> {
  // The relay's key and its rotations, read once: every head must verify against the key in
  // force at its height, and the last rotation must hand over to this key.
  const { relayKey, rotations } = await options.keys();
  return auditLedger(
    {
      relayKey,
      entries: (after, limit) => options.page(after, limit),
      rounds: async (after, limit) => (await options.rounds(after, limit)).rounds,
      rotations: async () => rotations,
    },
    {
      pageSize: options.pageSize ?? MAX_LEDGER_PAGE,
      onProgress: options.onProgress,
      firstKey: options.firstKey,
    },
  );
}
