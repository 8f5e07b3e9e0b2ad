// Which column the board is sorted by, and the order that gives. Rank is the relay's order
// (most verified FLOPs first; provisional credit counts for nothing until it is verified), so it stays attached to a volunteer whichever column is sorted;
// every other order breaks ties by rank so rows never swap places between two polls.
import type { LeaderboardRow } from '../../../protocol/ledger-api.ts';

/** `credits` is verified credit, the relay's order; `provisional` is credit not settled yet. */
export type SortKey = 'rank' | 'name' | 'credits' | 'provisional' | 'tokens' | 'gpuMs' | 'lastSeen';
export type SortDirection = 'ascending' | 'descending';

export interface BoardSort {
  readonly key: SortKey;
  readonly direction: SortDirection;
}

export interface RankedRow extends LeaderboardRow {
  /** 1 for the volunteer with the most verified FLOPs. */
  readonly rank: number;
  /** The name, or a short key for a volunteer who gave none. */
  readonly label: string;
}

export const SORT_KEYS: readonly SortKey[] = [
  'rank',
  'name',
  'credits',
  'provisional',
  'tokens',
  'gpuMs',
  'lastSeen',
];

export const DEFAULT_SORT: BoardSort = { key: 'rank', direction: 'ascending' };

export function isSortKey(text: string | undefined): text is SortKey {
  return (SORT_KEYS as readonly (string | undefined)[]).includes(text);
}

/** A click on the sorted column flips it; a click on another sorts that one ascending. */
export function nextSort(current: BoardSort, key: SortKey): BoardSort {
  if (current.key !== key) return { key, direction: 'ascending' };
  return { key, direction: current.direction === 'ascending' ? 'descending' : 'ascending' };
}

export function sortRows(rows: readonly RankedRow[], sort: BoardSort): RankedRow[] {
  const sign = sort.direction === 'ascending' ? 1 : -1;
  const compare = comparators[sort.key];
  return [...rows].sort((a, b) => sign * compare(a, b) || a.rank - b.rank);
}

const lastSeenMs = (row: RankedRow) => (row.lastSeen === null ? -Infinity : Date.parse(row.lastSeen));

const comparators: Record<SortKey, (a: RankedRow, b: RankedRow) => number> = {
  rank: (a, b) => a.rank - b.rank,
  name: (a, b) => a.label.localeCompare(b.label, 'en', { sensitivity: 'base' }),
  credits: (a, b) => a.verifiedCredits - b.verifiedCredits,
  provisional: (a, b) => a.provisionalCredits - b.provisionalCredits,
  tokens: (a, b) => a.tokens - b.tokens,
  gpuMs: (a, b) => a.gpuMs - b.gpuMs,
  lastSeen: (a, b) => Math.sign(lastSeenMs(a) - lastSeenMs(b)) || 0,
};
