// The relay's messages that every kind of volunteer handles alike, whatever the run trains:
// receipts (kept only when they verify against the relay's key, since a volunteer later shows
// them to prove its credit), waits and errors (shown to the person).
import { type Receipt, verifyReceipt } from '../../../protocol/ledger-signatures.ts';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';

export type NoticeEvent =
  | { readonly type: 'receipt'; readonly receipt: Receipt }
  | { readonly type: 'status'; readonly text: string };

export type Notice = Extract<RelayMessage, { type: 'receipt' | 'wait' | 'error' | 'relays' }>;

export function isNotice(message: RelayMessage): message is Notice {
  return (
    message.type === 'receipt' ||
    message.type === 'wait' ||
    message.type === 'error' ||
    message.type === 'relays'
  );
}

/** What the volunteer shows for a notice; a receipt is verified and stored first. */
export async function noticeEvent(
  message: Notice,
  relayKey: string,
  store: { addReceipt(receipt: Receipt): Promise<void> },
): Promise<NoticeEvent> {
  switch (message.type) {
    case 'receipt': {
      const receipt = message.receipt as Receipt;
      if (!(await verifyReceipt(receipt, relayKey)))
        return { type: 'status', text: 'the relay sent a receipt that does not verify; ignored' };
      await store.addReceipt(receipt);
      return { type: 'receipt', receipt };
    }
    case 'wait':
      return { type: 'status', text: `waiting: ${message.reason}` };
    case 'error':
      return { type: 'status', text: `relay error ${message.code}: ${message.message}` };
    case 'relays':
      // The reconnecting link learns the list itself (reconnecting-link.ts); this says it.
      return { type: 'status', text: `the run has ${message.relays.length} relays` };
  }
}
