// The "audit the chain" button: runs the whole-ledger audit (chain-audit.ts) and reports
// the height it reached or the first failure, with progress while it pages.

import { auditChain, type ChainAuditOptions } from './chain-audit.ts';
import { shortHash } from './format.ts';

export function wireAuditButton(
  button: HTMLButtonElement,
  result: HTMLElement,
  api: Pick<ChainAuditOptions, 'page' | 'rounds' | 'keys'>,
): void {
  button.addEventListener('click', () => {
    button.disabled = true;
    result.dataset.verdict = 'none';
    result.textContent = 'Auditing the chain…';
    auditChain({
      ...api,
      onProgress: (height) => {
        result.textContent = `Auditing the chain… checked up to height ${height}`;
      },
    })
      .then((audit) => {
        result.dataset.verdict = audit.ok ? 'ok' : 'bad';
        if (!audit.ok) {
          result.textContent = `Chain broken at height ${audit.height}: ${audit.reason} (${audit.detail}).`;
        } else if (!audit.head) {
          result.textContent = 'Chain OK: the ledger is empty.';
        } else {
          const rounds = `${audit.rounds} committed round${audit.rounds === 1 ? '' : 's'}`;
          const rotated = audit.keys.changes.length;
          const keys =
            rotated === 0
              ? ''
              : ` The relay's key was rotated ${rotated === 1 ? 'once' : `${rotated} times`}, each time signed by the outgoing and the incoming key; every head verifies against the key in force at its height.`;
          result.textContent = `Chain OK: every entry from 1 to height ${audit.height} re-hashes and links, and each of the ${rounds} has a head signed by the relay over its metadata (loss, shards, names, GPU time). The tip is the newest signed head (round ${audit.head.round}).${keys} Last hash ${shortHash(audit.hash)}`;
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
