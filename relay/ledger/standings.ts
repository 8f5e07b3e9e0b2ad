// Where each peer stands in a run, folded from its entries in chain order: the rounds whose
// work is verified (checked in the round itself, or provisional work a later check settled
// as verified) and whether it is banned. The round coordinator reads it after a restart to
// tell a proven peer from one still on probation.
import type { PeerEntryKind } from '../../protocol/ledger-entry.ts';

export interface Standing {
  /** Distinct rounds with verified work. */
  readonly verifiedRounds: number;
  readonly banned: boolean;
}

interface Tally {
  verified: Set<number>;
  unsettled: Set<number>;
  banned: boolean;
}

/** `entries` in height order, all of one run (relay-key entries name the relay, not a peer). */
export function foldStandings(
  entries: Iterable<{ readonly peerKey: string; readonly kind: PeerEntryKind; readonly round: number }>,
): Map<string, Standing> {
  const tallies = new Map<string, Tally>();
  for (const { peerKey, kind, round } of entries) {
    let t = tallies.get(peerKey);
    if (!t) {
      t = { verified: new Set(), unsettled: new Set(), banned: false };
      tallies.set(peerKey, t);
    }
    switch (kind) {
      case 'credit-verified':
        t.verified.add(round);
        break;
      case 'credit-provisional':
        t.unsettled.add(round);
        break;
      case 'verify':
        for (const r of t.unsettled) t.verified.add(r);
        t.unsettled.clear();
        break;
      case 'forfeit':
        t.unsettled.clear();
        break;
      case 'ban':
        t.banned = true;
        break;
      default: {
        const unreachable: never = kind;
        return unreachable;
      }
    }
  }
  return new Map(
    [...tallies].map(([peer, t]) => [peer, { verifiedRounds: t.verified.size, banned: t.banned }]),
  );
}
