// The public leaderboard: who gave how much verified work, what the model writes now (a sample
// from the latest checkpoint, run on the viewer's GPU), the run's loss curve, the latest
// checkpoint, and the signed ledger head, with tools to audit the chain and check a receipt
// in the browser. Polls the relay's public API; every view updates in place so a poll that
// changes nothing changes nothing on screen.

import { wrap } from 'comlink';
import type { LossPoint, RunSummary } from '../../../protocol/run-api.ts';
import { headWarning } from '../peer/head-warning.ts';
import { HeadWatch } from '../peer/head-watch.ts';
import { LiveChart } from '../volunteer/charts.ts';
import { remoteEngine } from '../worker/engine-comlink.ts';
import type { SampleWorkerApi } from '../worker/sample-api.ts';
import SampleWorker from '../worker/sample-worker.ts?worker';
import { wireAuditButton } from './audit-panel.ts';
import { BoardTable } from './board-table.ts';
import { fetchCheckpoint } from './checkpoint-fetch.ts';
import { showCheckpoint } from './checkpoint-link.ts';
import { DatasetLossChart } from './dataset-loss-chart.ts';
import { Freshness } from './freshness.ts';
import { LedgerHeadView } from './ledger-head.ts';
import { PublicApi } from './public-api.ts';
import { wireReceiptForm } from './receipt-form.ts';
import { SamplePanel, sampleBytesFrom } from './sample-panel.ts';
import { SampleView } from './sample-view.ts';

/** How often the page asks the relay for new figures; rounds commit every few seconds at most. */
const POLL_MS = 3_000;
/** How often relative times ("12 s ago") are rewritten between polls. */
const TICK_MS = 1_000;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const api = new PublicApi();
const ledgerPage = (after: number, limit: number) => api.ledger(after, limit);
const board = new BoardTable($<HTMLTableElement>('board'), $('board-empty'));
const lossChart = new LiveChart($('loss-chart'), 'round', 'train loss', '#2f6f4f');
const datasetChart = new DatasetLossChart($('dataset-loss'), $('dataset-loss-chart'));
const head = new LedgerHeadView($('head'), $('head-signature'), () => api.keys());
const freshness = new Freshness($('updated'));
// The sample worker starts only where WebGPU exists; a checkpoint's bytes move to it, uncopied.
const sampleWorker =
  'gpu' in navigator
    ? remoteEngine<SampleWorkerApi>(wrap(new SampleWorker()), {
        load: (_model, checkpoint) => [checkpoint.buffer],
      })
    : null;
const samples = new SamplePanel(new SampleView(), {
  model: sampleWorker,
  modelOf: (runId) => api.model(runId),
  fetchCheckpoint: (runId, heldHash) => fetchCheckpoint(runId, heldHash),
  seed: () => crypto.getRandomValues(new Uint32Array(1))[0] as number,
  bytes: sampleBytesFrom(location.search),
});
let shownLoss = '';
// The newest signed head this browser has seen, kept in localStorage: a relay whose head
// later goes backwards or forks is shown up (peer/head-watch.ts).
const SEEN_HEAD_KEY = 'potluck-seen-head';
const watchHead = headWarning(
  new HeadWatch(
    {
      load: async () => parseJson(localStorage.getItem(SEEN_HEAD_KEY)),
      save: async (seen) => localStorage.setItem(SEEN_HEAD_KEY, JSON.stringify(seen)),
    },
    (height) => api.hashAt(height),
  ),
  $('head-warning'),
);

/** Stored text as JSON, null when it is none or not JSON (HeadWatch parses the rest). */
function parseJson(text: string | null): unknown {
  try {
    return text === null ? null : JSON.parse(text);
  } catch {
    return null; // a garbled entry counts as no head seen; the next one overwrites it
  }
}

const ledgerKeys = () => api.keys();
wireAuditButton($<HTMLButtonElement>('audit'), $('audit-result'), {
  page: ledgerPage,
  rounds: (after, limit) => api.rounds(after, limit),
  keys: ledgerKeys,
});
wireReceiptForm(
  $<HTMLFormElement>('receipt-form'),
  $<HTMLTextAreaElement>('receipt'),
  $('receipt-verdict'),
  ledgerPage,
  ledgerKeys,
);

function describeRun(run: RunSummary): string {
  const rounds = run.committedRound + 1;
  const volunteers = `${run.peers} volunteer${run.peers === 1 ? '' : 's'} connected`;
  const params = `${run.paramCount.toLocaleString('en')} parameters`;
  return `Run ${run.id}: ${rounds} round${rounds === 1 ? '' : 's'} committed, ${volunteers}, ${params}.`;
}

function showLoss(points: readonly LossPoint[]): void {
  const trained = points.filter((p): p is LossPoint & { trainLoss: number } => p.trainLoss !== null);
  const last = trained.at(-1);
  const key = `${trained.length}|${last?.round}|${last?.trainLoss}`;
  if (key === shownLoss) return; // redraw only when a round was added
  shownLoss = key;
  lossChart.set(
    trained.map((p) => p.round),
    trained.map((p) => p.trainLoss),
  );
}

async function refresh(): Promise<void> {
  const run = (await api.runs())[0];
  if (!run) {
    $('run').textContent = 'The relay has no run.';
    return;
  }
  samples.follow(run); // on its own: a failed fetch below must not hold the sample back
  const [loss, datasets, rows, ledger] = await Promise.all([
    api.lossCurve(run.id),
    api.datasetLoss(run.id),
    api.leaderboard(),
    ledgerPage(0, 1),
  ]);
  const summary = describeRun(run);
  if ($('run').textContent !== summary) $('run').textContent = summary;
  board.setRows(rows);
  showLoss(loss);
  datasetChart.show(datasets.datasets, datasets.datasetLoss);
  showCheckpoint($<HTMLAnchorElement>('checkpoint'), $('checkpoint-about'), run);
  watchHead(ledger.head);
  await head.show(ledger);
}

function poll(): void {
  refresh()
    .then(() => freshness.updated())
    .catch((error: unknown) => freshness.failed(error instanceof Error ? error.message : String(error)))
    .finally(() => setTimeout(poll, POLL_MS));
}

setInterval(() => {
  freshness.render();
  board.render();
}, TICK_MS);
poll();
