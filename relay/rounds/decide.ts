// Which contributions count in a round (docs/ARCHITECTURE.md, step 6): those that every
// summing peer holds, so that every peer sums the same set and lands on the same weights.
// Survivors are the members whose manifest arrived before the deadline. A contribution counts
// when a majority of survivors hold its frame with the hash its author declared; the peers
// that sum are the survivors holding every counted frame. A survivor whose links failed (it
// holds too little) does not shrink the set for everyone: it is left out of the sum and
// resyncs from the committed weights afterwards.

export interface ManifestSummary {
  /** Hash of the author's own frame. */
  readonly frameHash: string;
  /** Frames of others this survivor holds: author → frame hash. */
  readonly holds: ReadonlyMap<string, string>;
}

export interface DecisionResult {
  /** Authors whose contribution counts, sorted (the order every peer sums in). */
  readonly counted: readonly string[];
  /** Survivors that hold every counted frame: they sum and report a model hash. */
  readonly summers: readonly string[];
}

export function decideCounted(manifests: ReadonlyMap<string, ManifestSummary>): DecisionResult {
  const survivors = [...manifests.keys()].sort();
  const holdsFrame = (survivor: string, author: string): boolean => {
    const own = manifests.get(author)?.frameHash;
    if (survivor === author) return true;
    return own !== undefined && manifests.get(survivor)?.holds.get(author) === own;
  };
  const majority = Math.floor(survivors.length / 2) + 1;
  const counted = survivors.filter(
    (author) => survivors.filter((s) => holdsFrame(s, author)).length >= majority,
  );
  const summers = survivors.filter((s) => counted.every((author) => holdsFrame(s, author)));
  return { counted: summers.length > 0 ? counted : [], summers };
}

export interface HashTally {
  /** The hash a strict majority of reporters agree on, or null. */
  readonly winner: string | null;
  readonly agreeing: readonly string[];
  readonly disagreeing: readonly string[];
}

/** The committed hash needs more than half of the peers that reported one. */
export function tallyHashes(reports: ReadonlyMap<string, string>): HashTally {
  const votes = new Map<string, string[]>();
  for (const [peer, hash] of reports) votes.set(hash, [...(votes.get(hash) ?? []), peer]);
  let winner: string | null = null;
  let agreeing: string[] = [];
  for (const [hash, peers] of votes) {
    if (peers.length * 2 > reports.size) {
      winner = hash;
      agreeing = peers.sort();
    }
  }
  const disagreeing = [...reports.keys()].filter((peer) => !agreeing.includes(peer)).sort();
  return { winner, agreeing, disagreeing };
}
