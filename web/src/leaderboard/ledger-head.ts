// The ledger head: the last height the relay has signed for, and whether that signature holds
// against the relay's public key. An auditor who keeps a verified head can later tell whether
// the history the relay serves is still the one it vouched for. The signature is checked once
// per distinct head, not on every poll.

import type { LedgerPageBody } from '../../../protocol/ledger-api.ts';
import { verifyHead } from '../../../protocol/ledger-signatures.ts';
import { shortHash } from './format.ts';

export class LedgerHeadView {
  private shown = '';

  constructor(
    private readonly summary: HTMLElement,
    private readonly signature: HTMLElement,
  ) {}

  async show(page: LedgerPageBody): Promise<void> {
    const { head, relayKey } = page;
    const key = head ? `${relayKey}|${head.hash}|${head.signature}` : `${relayKey}|empty`;
    if (key === this.shown) return;
    this.shown = key;
    if (!head) {
      this.summary.textContent = 'The ledger is empty: no round has been committed yet.';
      this.setVerdict('none', `Relay key ${relayKey}`);
      return;
    }
    this.summary.textContent = `Height ${head.height}, round ${head.round}, hash ${shortHash(head.hash)}`;
    this.summary.title = head.hash;
    const verified = await verifyHead(head, relayKey);
    if (this.shown !== key) return; // a newer head arrived while this one was being checked
    this.setVerdict(
      verified ? 'ok' : 'bad',
      verified
        ? `Signature verified against the relay key ${relayKey}`
        : `Signature does NOT verify against the relay key ${relayKey}`,
    );
  }

  private setVerdict(state: 'ok' | 'bad' | 'none', text: string): void {
    this.signature.textContent = text;
    this.signature.dataset.verdict = state;
  }
}
