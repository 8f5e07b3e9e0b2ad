// The "swarm right now" table: each volunteer the relay seats with us, as its own signed report
// in the swarm document (web/src/peer/swarm-doc.ts) shows it, redrawn when that changes and
// every few seconds (entries go stale without a change event). Credits are the one column not
// from the document: a peer's word on its own credits is worth nothing, so entries carry none
// and the column shows what the relay's leaderboard (/api/leaderboard) says for that key.
import { creditDecimals, formatCreditsFixed } from '../leaderboard/format.ts';
import type { SwarmDoc } from '../peer/swarm-doc.ts';

const STALE_REDRAW_MS = 5_000;
/** The header, kept here beside the cells it names. */
const COLUMNS = ['volunteer', 'round', 'phase', 'loss', 'tokens/s', 'sent', 'verified credits'];

export interface SwarmTable {
  /** The relay's credits per public key (its leaderboard); a key it does not list shows –. */
  showCredits(credits: ReadonlyMap<string, number>): void;
  hide(): void;
}

/** Draws the table into `table` (its head and body replaced) and keeps it current. */
export function showSwarm(table: HTMLTableElement, doc: SwarmDoc, selfKey: string): SwarmTable {
  const head = document.createElement('tr');
  for (const column of COLUMNS) {
    const th = document.createElement('th');
    th.textContent = column;
    head.append(th);
  }
  table.createTHead().replaceChildren(head);
  const body = table.tBodies[0] ?? table.createTBody();
  let credits: ReadonlyMap<string, number> = new Map();
  const draw = () => {
    const roster = doc.roster();
    // One number of decimals for the whole column, as the leaderboard prints it.
    const decimals = creditDecimals(roster.flatMap((peer) => credits.get(peer.key) ?? []));
    const rows = roster.map((peer) => {
      const tr = document.createElement('tr');
      tr.dataset.key = peer.key;
      if (peer.key === selfKey) tr.classList.add('self');
      const credit = credits.get(peer.key);
      const cells = [
        peer.key === selfKey ? `${peer.name} (you)` : peer.name,
        String(peer.round),
        peer.phase,
        peer.loss === null ? '–' : peer.loss.toFixed(3),
        Math.round(peer.tokensPerSec).toLocaleString('en'),
        `${(peer.bytesSent / 1e3).toFixed(1)} kB`,
        credit === undefined ? '–' : formatCreditsFixed(credit, decimals),
      ];
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    });
    body.replaceChildren(...rows);
  };
  const off = doc.onChange(draw);
  const timer = setInterval(draw, STALE_REDRAW_MS);
  draw();
  return {
    showCredits(next) {
      credits = next;
      draw();
    },
    hide() {
      off();
      clearInterval(timer);
    },
  };
}
