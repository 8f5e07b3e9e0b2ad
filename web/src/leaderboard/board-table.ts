// The leaderboard table: sortable by any column through a button in its header (so the sort
// is reachable by keyboard and announced through aria-sort, per the WAI-ARIA sortable table
// pattern), and updated in place on every poll. Each volunteer keeps one <tr> for the life of
// the page and only cells whose text changed are written, so a poll that changes nothing
// changes nothing on screen, and rows move rather than blink when the order changes. Each
// credit column shares one number of decimals, right-aligned, so its figures line up.

import type { LeaderboardRow } from '../../../protocol/ledger-api.ts';
import {
  type BoardSort,
  DEFAULT_SORT,
  isSortKey,
  nextSort,
  type RankedRow,
  SORT_KEYS,
  type SortKey,
  sortRows,
} from './board-sort.ts';
import {
  creditDecimals,
  formatAgo,
  formatCreditsFixed,
  formatDuration,
  formatTokens,
  shortKey,
} from './format.ts';

/** Cells in column order, one per sort key; matches the <th>s in leaderboard.html. */
const COLUMNS = SORT_KEYS;
/** Columns of figures with decimals, right-aligned so the decimal points line up. */
const RIGHT_ALIGNED: ReadonlySet<SortKey> = new Set(['credits', 'provisional']);

/** Decimals shown in each credit column, the same for every row of the board. */
interface CreditDecimals {
  readonly credits: number;
  readonly provisional: number;
}

export class BoardTable {
  private rows: RankedRow[] = [];
  private sort: BoardSort = DEFAULT_SORT;
  private readonly trs = new Map<string, HTMLTableRowElement>();
  private readonly body: HTMLTableSectionElement;
  private readonly headers: HTMLTableCellElement[];

  constructor(
    table: HTMLTableElement,
    /** Shown instead of the table while nobody has been credited. */
    private readonly empty: HTMLElement,
    private readonly now: () => number = Date.now,
  ) {
    const body = table.tBodies[0];
    if (!body) throw new Error('the leaderboard table has no <tbody>');
    this.body = body;
    this.headers = Array.from(table.tHead?.rows[0]?.cells ?? []);
    for (const th of this.headers) {
      const key = th.dataset.sort;
      if (!isSortKey(key)) continue;
      if (RIGHT_ALIGNED.has(key)) th.style.textAlign = 'right'; // over its figures
      th.querySelector('button')?.addEventListener('click', () => {
        this.sort = nextSort(this.sort, key);
        this.render();
      });
    }
    this.render();
  }

  /** The relay's rows, most verified FLOPs first. */
  setRows(rows: readonly LeaderboardRow[]): void {
    this.rows = rows.map((row, i) => {
      const name = row.name || shortKey(row.publicKey);
      return { ...row, rank: i + 1, label: row.banned ? `${name} (banned)` : name };
    });
    this.render();
  }

  /** Redraws with the rows it has: "last seen" is relative, so it ages between polls. */
  render(): void {
    for (const th of this.headers) {
      if (th.dataset.sort === this.sort.key) th.setAttribute('aria-sort', this.sort.direction);
      else th.removeAttribute('aria-sort');
    }
    const sorted = sortRows(this.rows, this.sort);
    const present = new Set(sorted.map((row) => row.publicKey));
    for (const [key, tr] of this.trs) {
      if (present.has(key)) continue;
      tr.remove();
      this.trs.delete(key);
    }
    const decimals: CreditDecimals = {
      credits: creditDecimals(sorted.map((row) => row.verifiedCredits)),
      provisional: creditDecimals(sorted.map((row) => row.provisionalCredits)),
    };
    const ordered = sorted.map((row) => this.fill(this.rowFor(row.publicKey), row, decimals));
    const inOrder =
      ordered.every((tr, i) => this.body.rows[i] === tr) && this.body.rows.length === ordered.length;
    if (!inOrder) this.body.append(...ordered); // append moves existing nodes: no re-creation
    this.empty.hidden = sorted.length > 0;
  }

  private rowFor(publicKey: string): HTMLTableRowElement {
    let tr = this.trs.get(publicKey);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.key = publicKey;
      for (const column of COLUMNS) {
        const td = document.createElement('td');
        td.className = `col-${column}`;
        // Set through the CSSOM, which the page's CSP allows (it refuses style attributes).
        if (RIGHT_ALIGNED.has(column)) td.style.textAlign = 'right';
        tr.append(td);
      }
      this.trs.set(publicKey, tr);
    }
    return tr;
  }

  private fill(tr: HTMLTableRowElement, row: RankedRow, decimals: CreditDecimals): HTMLTableRowElement {
    const texts: Record<SortKey, string> = {
      rank: String(row.rank),
      name: row.label,
      credits: formatCreditsFixed(row.verifiedCredits, decimals.credits),
      provisional: formatCreditsFixed(row.provisionalCredits, decimals.provisional),
      tokens: formatTokens(row.tokens),
      gpuMs: formatDuration(row.gpuMs),
      lastSeen: row.lastSeen === null ? '–' : formatAgo(Date.parse(row.lastSeen), this.now()),
    };
    for (const [i, column] of COLUMNS.entries()) {
      const td = tr.cells[i];
      if (td && td.textContent !== texts[column]) td.textContent = texts[column];
    }
    // A banned identity stays on the board, marked, so its past credit is seen for what it is.
    if (tr.classList.contains('banned') !== row.banned) tr.classList.toggle('banned', row.banned);
    const nameCell = tr.cells[1];
    if (nameCell) nameCell.title = row.banned ? `${row.publicKey} (banned from the run)` : row.publicKey;
    const creditsCell = tr.cells[2];
    if (creditsCell)
      creditsCell.title = `${row.verifiedFlops} verified FLOP; credited in ${row.rounds} rounds`;
    const provisionalCell = tr.cells[3];
    if (provisionalCell)
      provisionalCell.title = `${row.provisionalFlops} FLOP accepted unchecked, not verified or forfeited yet`;
    return tr;
  }
}
