// An identity's stamps, kept with the identity: minted once per run (a few seconds at the
// default difficulty) and stored, so a reload or a reconnect does not pay again. A kept stamp
// is checked before use, so one made for another key, run or difficulty is minted afresh.
import { checkStamp } from '../../../protocol/identity-stamp.ts';

/** The stamp a hello carries for this identity on `runId` at `bits` (swarm-client.ts asks it). */
export type StampSource = (runId: string, bits: number) => Promise<string>;

/** Where stamps are kept: IndexedDB in a tab (idb-store.ts), the state folder headless (file-store.ts). */
export interface StampStore {
  loadStamp(runId: string): Promise<string | null>;
  saveStamp(runId: string, stamp: string): Promise<void>;
}

/** Mints a stamp (stamp-mint.ts, in a worker on the page). */
export type StampMinter = (runId: string, publicKey: string, bits: number) => Promise<string>;

/** Stamps for `publicKey`: the kept one when it still checks out, else one minted and kept. */
export function keptStamps(store: StampStore, publicKey: string, mint: StampMinter): StampSource {
  // Two asks for one run while minting (a reconnect during the first) share the one mint.
  const minting = new Map<string, Promise<string>>();
  return async (runId, bits) => {
    const kept = await store.loadStamp(runId);
    if (kept !== null && checkStamp(runId, publicKey, kept, bits).ok) return kept;
    const key = `${runId}|${bits}`;
    let pending = minting.get(key);
    if (!pending) {
      pending = mint(runId, publicKey, bits).then(async (stamp) => {
        await store.saveStamp(runId, stamp);
        return stamp;
      });
      minting.set(key, pending);
      // Forgotten once settled, so a failed mint is tried again; its callers see the failure.
      pending.then(
        () => minting.delete(key),
        () => minting.delete(key),
      );
    }
    return pending;
  };
}
