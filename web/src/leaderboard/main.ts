// The public leaderboard: who gave how much verified work, the run's loss curve, and the
// ledger head an auditor can check receipts against. Polls the relay's public API.
import { drawLossChart } from '../loss-chart.ts';

const REFRESH_MS = 5_000;

interface Row {
  readonly publicKey: string;
  readonly name: string | null;
  readonly credits: number;
  readonly tokens: number;
  readonly rounds: number;
  readonly lastSeen: string | null;
}

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

function renderRows(rows: readonly Row[]): void {
  const body = element<HTMLTableElement>('board').tBodies[0] as HTMLTableSectionElement;
  body.replaceChildren(
    ...rows.map((row, i) => {
      const tr = document.createElement('tr');
      const cells = [
        String(i + 1),
        row.name || `${row.publicKey.slice(0, 10)}…`,
        row.credits.toFixed(3),
        row.tokens.toLocaleString('en'),
        String(row.rounds),
        row.lastSeen ? new Date(row.lastSeen).toLocaleTimeString() : '–',
      ];
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
}

async function refresh(): Promise<void> {
  const { runs } = await getJson<{ runs: { id: string; committedRound: number; peers: number }[] }>(
    '/api/runs',
  );
  const run = runs[0];
  if (!run) return;
  const detail = await getJson<{ loss: { trainLoss: number | null }[] }>(`/api/runs/${run.id}`);
  element('run').textContent =
    `Run ${run.id}: ${run.committedRound + 1} rounds committed, ${run.peers} volunteers connected.`;
  drawLossChart(
    element<HTMLCanvasElement>('loss'),
    detail.loss.map((r) => r.trainLoss).filter((l): l is number => l !== null),
  );
  renderRows((await getJson<{ rows: Row[] }>('/api/leaderboard')).rows);
  const ledger = await getJson<{ head: { height: number; hash: string } | null }>('/api/ledger?limit=1');
  element('head').textContent = ledger.head
    ? `Ledger head: height ${ledger.head.height}, hash ${ledger.head.hash.slice(0, 16)}…`
    : 'The ledger is empty.';
  element<HTMLAnchorElement>('checkpoint').href = `/api/runs/${run.id}/checkpoint`;
}

function loop(): void {
  refresh()
    .catch((error: unknown) => {
      element('run').textContent =
        `Cannot reach the relay: ${error instanceof Error ? error.message : error}`;
    })
    .finally(() => setTimeout(loop, REFRESH_MS));
}

loop();
