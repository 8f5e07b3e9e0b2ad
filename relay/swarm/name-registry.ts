// Which identity holds each display name in the run, compared in normalized form
// (protocol/display-name.ts, normalizeName): "Alice", "ALICE" and "Ａｌｉｃｅ" are one name, held
// by the first identity that used it, live or gone, so nobody can pass for another volunteer on
// the leaderboard. A peer keeps its own name across reconnects, and holds one: taking another
// lets its last one go, so one identity cannot reserve names by the dozen. The relay learns names
// from hellos and, at start, from the run's credited peers in the ledger.
import { normalizeName } from '../../protocol/display-name.ts';
import { BoundedMap } from '../limits/bounded-map.ts';

export class NameRegistry {
  private readonly holders: BoundedMap<string, string>;
  /** Each identity's name, normalized. */
  private readonly held: BoundedMap<string, string>;

  /** `capacity`: names remembered; past it the one claimed longest ago is forgotten. */
  constructor(capacity: number) {
    this.holders = new BoundedMap(capacity);
    this.held = new BoundedMap(capacity);
  }

  /** The identity already holding `name`'s normalized form, if it is not `peerId`. */
  heldByAnother(peerId: string, name: string): string | null {
    const holder = this.holders.get(normalizeName(name));
    return holder !== undefined && holder !== peerId ? holder : null;
  }

  /** Records that `peerId` holds `name` (a first holder is never displaced). */
  claim(peerId: string, name: string): void {
    const key = normalizeName(name);
    if (key === '') return;
    const holder = this.holders.get(key);
    if (holder !== undefined && holder !== peerId) return;
    const last = this.held.get(peerId);
    if (last !== undefined && last !== key && this.holders.get(last) === peerId) this.holders.delete(last);
    this.holders.set(key, peerId);
    this.held.set(peerId, key);
  }

  get size(): number {
    return this.holders.size;
  }
}
