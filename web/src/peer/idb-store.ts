// The tab's memory across reloads, in IndexedDB through idb-keyval: the identity (the
// CryptoKey pair itself, non-extractable) and its proof-of-work stamp per run, the name the
// volunteer chose, the last committed state of the run, every credit receipt, and the newest
// ledger head seen. A reload resumes with the same key, without downloading the weights again,
// and without losing a receipt.
import { createStore, get, set, type UseStore, update } from 'idb-keyval';
import type { Receipt } from '../../../protocol/ledger-signatures.ts';
import type { SeenHead } from './head-watch.ts';
import { generateKeyPair, type StoredKeyPair } from './identity.ts';
import type { StampStore } from './kept-stamp.ts';
import type { VolunteerStore } from './volunteer.ts';

export class IdbVolunteerStore implements VolunteerStore, StampStore {
  constructor(private readonly store: UseStore = createStore('potluck-volunteer', 'state')) {}

  async keyPair(): Promise<StoredKeyPair> {
    const saved = await get<StoredKeyPair>('identity', this.store);
    if (saved) return saved;
    const pair = await generateKeyPair(false);
    await set('identity', pair, this.store);
    return pair;
  }

  async loadStamp(runId: string): Promise<string | null> {
    return (await get<string>(`stamp:${runId}`, this.store)) ?? null;
  }

  async saveStamp(runId: string, stamp: string): Promise<void> {
    await set(`stamp:${runId}`, stamp, this.store);
  }

  /** The display name the volunteer chose, or null before it chose one. */
  async name(): Promise<string | null> {
    return (await get<string>('name', this.store)) ?? null;
  }

  async setName(name: string): Promise<void> {
    await set('name', name, this.store);
  }

  async loadState(runId: string) {
    return (
      (await get<{ round: number; hash: string; bytes: Uint8Array }>(`state:${runId}`, this.store)) ?? null
    );
  }

  async saveState(runId: string, round: number, hash: string, bytes: Uint8Array): Promise<void> {
    await set(`state:${runId}`, { round, hash, bytes }, this.store);
  }

  async loadLocal(runId: string): Promise<Uint8Array | null> {
    return (await get<Uint8Array>(`local:${runId}`, this.store)) ?? null;
  }

  async saveLocal(runId: string, bytes: Uint8Array): Promise<void> {
    await set(`local:${runId}`, bytes, this.store);
  }

  async loadRoundStart(runId: string): Promise<{ round: number; bytes: Uint8Array } | null> {
    return (await get<{ round: number; bytes: Uint8Array }>(`round-start:${runId}`, this.store)) ?? null;
  }

  async saveRoundStart(runId: string, round: number, bytes: Uint8Array): Promise<void> {
    await set(`round-start:${runId}`, { round, bytes }, this.store);
  }

  async receipts(): Promise<Receipt[]> {
    return (await get<Receipt[]>('receipts', this.store)) ?? [];
  }

  async addReceipt(receipt: Receipt): Promise<void> {
    await update<Receipt[]>('receipts', (list) => [...(list ?? []), receipt], this.store);
  }

  /** The newest ledger head this tab has seen (head-watch.ts); unknown until parsed there. */
  async seenHead(): Promise<unknown> {
    return get('seen-head', this.store);
  }

  async saveSeenHead(head: SeenHead): Promise<void> {
    await set('seen-head', head, this.store);
  }
}
