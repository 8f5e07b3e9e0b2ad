// Remembering the newest ledger head this browser has seen, and saying so loudly when the
// relay later serves one that goes backwards or forks. A relay (or anyone with its database)
// can cut the newest rounds off the top of its chain and re-sign nothing: the shorter chain
// still verifies (protocol/ledger-audit.ts). Only someone who kept a newer head can tell, so
// every volunteer tab and every leaderboard visitor keeps one.
//
//   backwards  the served head is lower than the one seen
//   fork       same height, another hash; or the seen head is not on the served chain
import * as v from 'valibot';
import { Sha256Hex } from '../../../protocol/ledger-entry.ts';

export interface SeenHead {
  readonly height: number;
  readonly hash: string;
}

export type HeadVerdict =
  | { readonly kind: 'first' } // nothing seen before: the served head is kept
  | { readonly kind: 'same' }
  | { readonly kind: 'ahead' } // higher, and the seen head is on its chain (when checked)
  | { readonly kind: 'backwards'; readonly seen: SeenHead; readonly served: SeenHead }
  | { readonly kind: 'fork'; readonly seen: SeenHead; readonly served: SeenHead };

const SeenHeadSchema = v.object({
  height: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  hash: Sha256Hex,
});

/** A stored or served head if well formed, else null; never throws. */
export function parseSeenHead(input: unknown): SeenHead | null {
  const parsed = v.safeParse(SeenHeadSchema, input);
  return parsed.success ? { height: parsed.output.height, hash: parsed.output.hash } : null;
}

/** How `served` stands against `seen`, by height and hash alone. */
export function compareHeads(seen: SeenHead | null, served: SeenHead): HeadVerdict {
  if (!seen) return { kind: 'first' };
  if (served.height < seen.height) return { kind: 'backwards', seen, served };
  if (served.height === seen.height)
    return served.hash === seen.hash ? { kind: 'same' } : { kind: 'fork', seen, served };
  return { kind: 'ahead' };
}

/** Where the newest seen head is kept (IndexedDB in the volunteer tab, localStorage on the leaderboard). */
export interface HeadStore {
  load(): Promise<unknown>;
  save(head: SeenHead): Promise<void>;
}

export class HeadWatch {
  constructor(
    private readonly store: HeadStore,
    /** The served chain's entry hash at a height (GENESIS_HASH at 0), null if it has none. */
    private readonly hashAt?: (height: number) => Promise<string | null>,
  ) {}

  /**
   * Compares `served` with the newest head seen and keeps `served` when it is newer and
   * consistent. A head that went backwards or forked is never kept: the warning stands
   * until the relay serves a chain that holds the head seen.
   */
  async observe(input: unknown): Promise<HeadVerdict> {
    const served = parseSeenHead(input);
    if (!served) return { kind: 'same' }; // nothing to compare: the signature checks report it
    const seen = parseSeenHead(await this.store.load());
    let verdict = compareHeads(seen, served);
    if (verdict.kind === 'ahead' && seen && this.hashAt) {
      const hash = await this.hashAt(seen.height);
      if (hash !== seen.hash) verdict = { kind: 'fork', seen, served };
    }
    if (verdict.kind === 'first' || verdict.kind === 'ahead') await this.store.save(served);
    return verdict;
  }
}

/** The warning to show, or null when all is well. */
export function describeHeadVerdict(verdict: HeadVerdict): string | null {
  switch (verdict.kind) {
    case 'first':
    case 'same':
    case 'ahead':
      return null;
    case 'backwards':
      return `Warning: the relay's ledger went backwards. This browser saw a signed head at height ${verdict.seen.height}; the relay now serves height ${verdict.served.height}. Credit recorded after it may have been erased.`;
    case 'fork':
      return `Warning: the relay's ledger forked. This browser saw a signed head at height ${verdict.seen.height} (${verdict.seen.hash.slice(0, 16)}…) that the chain served now does not hold (head at height ${verdict.served.height}, ${verdict.served.hash.slice(0, 16)}…). Its history was rewritten.`;
    default: {
      const unreachable: never = verdict;
      return unreachable;
    }
  }
}
