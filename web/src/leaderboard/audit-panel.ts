// The "audit the chain" button: runs the whole-ledger audit (chain-audit.ts) and reports
// the height it reached or the first failure, with progress while it pages.

import type { LedgerPageBody } from '../../../protocol/ledger-api.ts';
import { auditChain } from './chain-audit.ts';
import { shortHash } from './format.ts';

export function wireAuditButton(
  button: HTMLButtonElement,
  result: HTMLElement,
  page: (after: number, limit: number) => Promise<LedgerPageBody>,
): void {
  button.addEventListener('click', () => {
    button.disabled = true;
    result.dataset.verdict = 'none';
    result.textContent = 'Auditing the chain…';
    auditChain({
      page,
      onProgress: (height) => {
        result.textContent = `Auditing the chain… checked up to height ${height}`;
      },
    })
      .then((audit) => {
        result.dataset.verdict = audit.ok ? 'ok' : 'bad';
        if (!audit.ok) {
          result.textContent = `Chain broken at height ${audit.height}: ${audit.reason} (${audit.detail}).`;
        } else if (audit.height === 0) {
          result.textContent = 'Chain OK: the ledger is empty.';
        } else {
          const head = audit.head
            ? `, including the signed head at height ${audit.head.height} (round ${audit.head.round})`
            : '';
          result.textContent = `Chain OK: every entry from 1 to height ${audit.height} re-hashes and links${head}. Last hash ${shortHash(audit.hash)}`;
        }
      })
      .catch((error: unknown) => {
        result.dataset.verdict = 'bad';
        result.textContent = `Could not finish the audit: ${error instanceof Error ? error.message : error}`;
      })
      .finally(() => {
        button.disabled = false;
      });
  });
}
