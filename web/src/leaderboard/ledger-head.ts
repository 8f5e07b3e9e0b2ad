// The ledger head: the last height the relay has signed for, and whether that signature holds
// against the relay's public key. An auditor who keeps a verified head can later tell whether
// the history the relay serves is still the one it vouched for. The signature is checked once
// per distinct head, not on every poll. Right after a key rotation the newest head is still
// the old key's (no round has committed since): then the rotations say whether it was the key
// in force at the head's height (protocol/ledger-keys.ts).

import type { KeysBody, LedgerPageBody } from '../../../protocol/ledger-api.ts';
import { followRotations, keyAt } from '../../../protocol/ledger-keys.ts';
import { verifyHead } from '../../../protocol/ledger-signatures.ts';
import { shortHash } from './format.ts';

export class LedgerHeadView {
  private shown = '';

  constructor(
    private readonly summary: HTMLElement,
    private readonly signature: HTMLElement,
    private readonly keys: () => Promise<KeysBody>,
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
    const signer = (await verifyHead(head, relayKey)) ? relayKey : await this.keyInForce(head.height);
    const verified = signer !== null && (await verifyHead(head, signer));
    if (this.shown !== key) return; // a newer head arrived while this one was being checked
    this.setVerdict(
      verified ? 'ok' : 'bad',
      !verified
        ? `Signature does NOT verify against the relay key ${relayKey}`
        : signer === relayKey
          ? `Signature verified against the relay key ${relayKey}`
          : `Signature verified against ${signer}, the relay's key at height ${head.height}; it has rotated to ${relayKey} since`,
    );
  }

  /** The key the rotations put in force at `height`; null when they do not hold. */
  private async keyInForce(height: number): Promise<string | null> {
    const { relayKey, rotations } = await this.keys();
    const followed = await followRotations(rotations, relayKey);
    return followed.ok ? keyAt(followed.schedule, height) : null;
  }

  private setVerdict(state: 'ok' | 'bad' | 'none', text: string): void {
    this.signature.textContent = text;
    this.signature.dataset.verdict = state;
  }
}
