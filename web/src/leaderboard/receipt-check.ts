// Checking a receipt a volunteer pasted: the JSON the volunteer page keeps for every credited
// round, `{entry, signature, relayKey}`. A receipt is good when this relay signed it with the
// key in force at the entry's height (a receipt from before a key rotation stays good: the
// rotations say which key that was, protocol/ledger-keys.ts), its entry is the one that was
// signed (the content hashes to the signed hash), and the ledger holds that same entry at its
// height today. Each way it can fail gets its own verdict, so the page can say what is wrong
// instead of only "invalid".
import * as v from 'valibot';
import type { KeysBody, LedgerPageBody } from '../../../protocol/ledger-api.ts';
import { entryHash, type LedgerEntry, parseLedgerEntry } from '../../../protocol/ledger-entry.ts';
import { followRotations, keyAt } from '../../../protocol/ledger-keys.ts';
import { ReceiptSchema, verifyReceipt } from '../../../protocol/ledger-signatures.ts';

export type ReceiptVerdict =
  | { readonly kind: 'verified'; readonly entry: LedgerEntry }
  | { readonly kind: 'not-json'; readonly detail: string }
  | { readonly kind: 'malformed'; readonly detail: string }
  /** Signed, or claimed to be, by another key than this relay's at the entry's height. */
  | { readonly kind: 'other-relay'; readonly receiptKey: string; readonly relayKey: string }
  /** The entry was changed after signing: its content no longer hashes to its stated hash. */
  | { readonly kind: 'altered'; readonly stated: string; readonly actual: string }
  | { readonly kind: 'bad-signature' }
  /** Validly signed, but the ledger holds something else (or nothing) at its height. */
  | { readonly kind: 'not-in-ledger'; readonly entry: LedgerEntry; readonly found: string | null };

/** `page(after, limit)` reads the relay's ledger (/api/ledger), `keys` its key rotations. */
export async function checkReceipt(
  text: string,
  page: (after: number, limit: number) => Promise<LedgerPageBody>,
  keys: () => Promise<KeysBody>,
): Promise<ReceiptVerdict> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { kind: 'not-json', detail: error instanceof Error ? error.message : String(error) };
  }
  const parsed = v.safeParse(ReceiptSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const where = issue ? v.getDotPath(issue) : null;
    return { kind: 'malformed', detail: `${where ? `${where}: ` : ''}${issue?.message ?? 'not a receipt'}` };
  }
  const receipt = parsed.output;
  const { entry } = receipt;
  const ledger = await page(entry.height - 1, 1);
  // The key in force at the entry's height; rotations that do not hold leave only today's key.
  const { relayKey, rotations } = await keys();
  const followed = await followRotations(rotations, relayKey);
  const signer = followed.ok ? keyAt(followed.schedule, entry.height) : relayKey;
  if (receipt.relayKey !== signer) {
    return { kind: 'other-relay', receiptKey: receipt.relayKey, relayKey: signer };
  }
  const actual = await entryHash(entry);
  if (actual !== entry.hash) return { kind: 'altered', stated: entry.hash, actual };
  if (!(await verifyReceipt(receipt, signer))) return { kind: 'bad-signature' };
  // The stored entry is re-hashed rather than its `hash` field believed: a relay could keep
  // the hash and change the content.
  const stored = parseLedgerEntry(ledger.entries[0]);
  const found = stored?.height === entry.height ? await entryHash(stored) : null;
  if (found !== entry.hash) return { kind: 'not-in-ledger', entry, found };
  return { kind: 'verified', entry };
}
