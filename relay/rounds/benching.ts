// Members that miss a round's decision are benched with exponential back-off: after the k-th
// miss in a row a peer sits out the next 2^(k-1) rounds (capped), so a client that says ready
// and goes silent costs the swarm one grace period now and then, not every round. A counted
// contribution clears the record. Records are kept by key, not by connection, so reconnecting
// does not clear them.

/** The longest bench, in rounds. */
export const MAX_BENCH_ROUNDS = 64;
/** Keys remembered at most: the oldest record is forgotten first. */
const MAX_RECORDS = 10_000;

interface Record {
  misses: number;
  /** The first round this peer may be seated in again. */
  until: number;
}

export class Benching {
  private readonly records = new Map<string, Record>();

  /** `peer` was a member of `round` and had no contribution counted by its decision. */
  missed(peer: string, round: number): number {
    const misses = (this.records.get(peer)?.misses ?? 0) + 1;
    const rounds = Math.min(MAX_BENCH_ROUNDS, 2 ** Math.min(misses - 1, 30));
    this.records.delete(peer); // re-insert: the map's order is the records' age
    this.records.set(peer, { misses, until: round + 1 + rounds });
    if (this.records.size > MAX_RECORDS) this.records.delete(this.records.keys().next().value as string);
    return rounds;
  }

  /** `peer`'s contribution counted: its record is cleared. */
  contributed(peer: string): void {
    this.records.delete(peer);
  }

  /** Whether `peer` sits out `round`. */
  benched(peer: string, round: number): boolean {
    const record = this.records.get(peer);
    return record !== undefined && round < record.until;
  }

  /** The first round `peer` may be seated in again (for the wait message). */
  until(peer: string): number | null {
    return this.records.get(peer)?.until ?? null;
  }
}
