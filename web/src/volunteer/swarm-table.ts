// The "swarm right now" table: every volunteer's own live report from the swarm document
// (web/src/peer/swarm-doc.ts), redrawn when it changes and every few seconds (entries go
// stale without a change event).
import type { SwarmDoc } from '../peer/swarm-doc.ts';

const STALE_REDRAW_MS = 5_000;

export function showSwarm(table: HTMLTableElement, doc: SwarmDoc, selfKey: string): () => void {
  const body = table.tBodies[0] as HTMLTableSectionElement;
  const draw = () => {
    const rows = doc.roster().map((peer) => {
      const tr = document.createElement('tr');
      if (peer.key === selfKey) tr.classList.add('self');
      const cells = [
        peer.key === selfKey ? `${peer.name} (you)` : peer.name,
        String(peer.round),
        peer.phase,
        peer.loss === null ? '–' : peer.loss.toFixed(3),
        Math.round(peer.tokensPerSec).toLocaleString('en'),
        `${(peer.bytesSent / 1e3).toFixed(1)} kB`,
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
  return () => {
    off();
    clearInterval(timer);
  };
}
