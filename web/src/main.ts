// The volunteer page: probes WebGPU, then on "Donate my GPU" joins the relay's run with the
// peer runtime (web/src/peer/volunteer.ts) around a round engine in a dedicated worker, and
// shows what the GPU is doing. Identity, the last committed state and receipts live in
// IndexedDB, so a reload resumes where it was (and resumes donating if it was donating).
import { wrap } from 'comlink';
import SimplePeer from 'simple-peer/simplepeer.min.js';
import { noiseStreamOf } from '../../kernels/round/round-engine.ts';
import { volunteerMemoryBytes } from '../../protocol/model-memory.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import { IdbVolunteerStore } from './peer/idb-store.ts';
import { identityFromKeyPair, type PeerIdentity } from './peer/identity.ts';
import { PeerMesh } from './peer/mesh.ts';
import type { MeshPeerConstructor } from './peer/mesh-simple-peer.ts';
import { RelayApi } from './peer/relay-api.ts';
import { SignalClient } from './peer/signal-client.ts';
import { adapterReport, SwarmClient, type SwarmSocket } from './peer/swarm-client.ts';
import { SwarmDoc } from './peer/swarm-doc.ts';
import { Volunteer, type VolunteerEvent } from './peer/volunteer.ts';
import { LiveChart } from './volunteer/charts.ts';
import { startPipelinePage } from './volunteer/pipeline-page.ts';
import { showSwarm } from './volunteer/swarm-table.ts';
import { workerEngine } from './volunteer/worker-engine.ts';
import type { VolunteerWorkerApi } from './worker/volunteer-api.ts';
import VolunteerWorker from './worker/volunteer-worker.ts?worker';

/** Remembers across reloads that this tab was donating, so a reload resumes. */
const DONATING_KEY = 'potluck:donating';
const RUN_REFRESH_MS = 5_000;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const setText = (id: string, text: string) => {
  $(id).textContent = text;
};
const bytes = (n: number) =>
  n < 1e3 ? `${n} B` : n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : `${(n / 1e6).toFixed(2)} MB`;

function fail(message: string): void {
  setText('status', message);
  $('status').classList.add('error');
}

const store = new IdbVolunteerStore();
const worker = wrap<VolunteerWorkerApi>(new VolunteerWorker());
let identity: PeerIdentity;
let volunteer: Volunteer | null = null;
let teardown: (() => void) | null = null;
let credits = 0;

async function showReceipts(): Promise<number> {
  const receipts = await store.receipts();
  credits = receipts.reduce((sum, r) => sum + Number(BigInt(r.entry.flops)) / 1e12, 0);
  setText('receipts', String(receipts.length));
  setText('credits', credits === 0 || credits >= 0.01 ? credits.toFixed(3) : credits.toExponential(2));
  return credits;
}

async function main(): Promise<void> {
  identity = await identityFromKeyPair(await store.keyPair());
  setText('peer-id', identity.publicKey);
  await showReceipts();
  if (!('gpu' in navigator)) {
    fail(
      'This browser has no WebGPU, so it cannot train. Use Chrome or Edge 113 or newer (on Linux, start it with --enable-unsafe-webgpu), or Safari 26 / Firefox 141 with WebGPU enabled.',
    );
    return;
  }
  let adapter: Awaited<ReturnType<VolunteerWorkerApi['adapter']>>;
  try {
    adapter = await worker.adapter();
  } catch (error) {
    fail(
      `WebGPU is there but gave no GPU: ${error instanceof Error ? error.message : error}. Check that hardware acceleration is on.`,
    );
    return;
  }
  const name = [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' ');
  setText('gpu', `GPU: ${name}${adapter.isSoftware ? ' (a CPU fallback: slow, but it counts)' : ''}`);
  setText('status', 'Ready. Your GPU stays idle until you press the button.');
  const donate = $<HTMLButtonElement>('donate');
  donate.disabled = false;
  donate.addEventListener('click', () => {
    donate.disabled = true;
    localStorage.setItem(DONATING_KEY, '1');
    join(adapter).catch((error: unknown) => {
      fail(`Could not join: ${error instanceof Error ? error.message : error}`);
      donate.disabled = false;
    });
  });
  if (localStorage.getItem(DONATING_KEY) === '1') donate.click();
}

async function join(adapter: Awaited<ReturnType<VolunteerWorkerApi['adapter']>>): Promise<void> {
  const origin = location.origin;
  const wsOrigin = origin.replace(/^http/, 'ws');
  setText('status', 'Connecting to the relay…');
  const client = await SwarmClient.connect({
    url: `${wsOrigin}/swarm`,
    identity,
    name: `tab-${identity.publicKey.slice(0, 6)}`,
    platform: 'browser',
    socket: (url) => new WebSocket(url) as unknown as SwarmSocket,
  });
  const relay = new RelayApi(origin, client.runId);
  const config = await relay.runConfig(client.configHash);
  showMemory(config, adapter.maxBufferBytes);
  setText('status', 'Preparing the model on your GPU…');
  const signal = new SignalClient({
    url: `${wsOrigin}/signal`,
    socket: (url) => new WebSocket(url) as never,
  });
  await signal.ready();
  const mesh = new PeerMesh({
    identity,
    signal,
    SimplePeer: SimplePeer as unknown as MeshPeerConstructor,
    runId: client.runId,
    iceServers: client.iceServers,
  });
  const name = `tab-${identity.publicKey.slice(0, 6)}`;
  const swarm = new SwarmDoc({
    runId: client.runId,
    selfKey: identity.publicKey,
    name,
    signalingUrl: `${wsOrigin}/signal`,
    iceServers: client.iceServers,
  });
  const hideSwarm = showSwarm($<HTMLTableElement>('swarm'), swarm, identity.publicKey);
  const lossChart = new LiveChart($('loss-chart'), 'step', 'loss (nats)', '#2f6f4f');
  const runChart = new LiveChart($('run-chart'), 'round', 'loss (nats)', '#8a4b9c');
  const refresh = setInterval(() => void refreshRun(client.runId, runChart), RUN_REFRESH_MS);
  void refreshRun(client.runId, runChart);
  const closeAll = () => {
    clearInterval(refresh);
    hideSwarm();
    void swarm.destroy();
    mesh.destroy();
    signal.close();
  };
  if (config.pipeline) {
    const stop = await startPipelinePage({
      client,
      relay,
      config,
      network: mesh,
      store,
      worker,
      swarm,
      adapter: adapterReport(adapter),
      maxBufferBytes: adapter.maxBufferBytes,
      lossChart,
      refreshRun: () => void refreshRun(client.runId, runChart),
      showReceipts,
      setText,
      bytes,
    });
    // A stage cannot pause: its microbatches would stall every other stage. Leaving (closing
    // the tab) hands them to a replica of the stage instead.
    setText('throttle-value', 'n/a in a pipeline run');
    $<HTMLInputElement>('throttle').disabled = true;
    teardown = () => {
      stop('the tab closed');
      closeAll();
    };
    return;
  }
  const engine = workerEngine(
    await worker.createEngine(config, noiseStreamOf(config.seed, identity.publicKey)),
  );
  let steps = 0;
  const onEvent = (event: VolunteerEvent) => {
    switch (event.type) {
      case 'status':
        return setText('status', event.text);
      case 'step':
        steps++;
        swarm.publish({
          round: event.round,
          phase: 'training',
          loss: event.progress.loss,
          tokensPerSec: event.progress.tokensPerSec,
        });
        lossChart.push(steps, event.progress.loss);
        setText('loss-now', event.progress.loss.toFixed(3));
        setText('speed', Math.round(event.progress.tokensPerSec).toLocaleString('en'));
        setText('phase', `training ${event.progress.step}/${event.progress.steps}`);
        return;
      case 'round':
        swarm.publish({ round: event.round, phase: event.phase });
        setText('round', String(event.round));
        setText('phase', event.phase);
        if (event.peers > 0) setText('peers', String(event.peers));
        if (event.phase === 'training')
          setText('status', `Training round ${event.round} with ${event.peers} volunteers.`);
        return;
      case 'committed':
        void refreshRun(client.runId, runChart);
        return setText(
          'status',
          `Round ${event.round} committed: every volunteer holds model ${event.hash.slice(0, 12)}.`,
        );
      case 'traffic':
        swarm.publish({ bytesSent: event.bytesSent, bytesReceived: event.bytesReceived });
        setText('sent', bytes(event.bytesSent));
        setText('received', bytes(event.bytesReceived));
        setText('compression', `${Math.round(event.denseBytes / Math.max(1, event.frameBytes))}x`);
        return;
      case 'receipt':
        void showReceipts().then(() => swarm.publish({ credits }));
        return;
    }
  };
  volunteer = new Volunteer({
    client,
    network: mesh,
    engine,
    relay,
    store,
    runId: client.runId,
    speed: { tokensPerSec: 0, uplinkBytesPerSec: 0, downlinkBytesPerSec: 0 },
    adapter: adapterReport(adapter),
    paramCount: paramLayout(config.model).paramCount,
    onEvent,
  });
  await volunteer.start();
  setText('status', `Joined run ${client.runId}. Waiting for the next round…`);
  setupControls(engine);
  teardown = () => {
    volunteer?.stop('the tab closed');
    closeAll();
  };
}

async function refreshRun(runId: string, chart: LiveChart): Promise<void> {
  const response = await fetch(`/api/runs/${runId}`).catch(() => null);
  if (!response?.ok) return;
  const run = (await response.json()) as { loss: { round: number; trainLoss: number | null }[] };
  const points = run.loss.filter((p) => p.trainLoss !== null);
  chart.set(
    points.map((p) => p.round),
    points.map((p) => p.trainLoss as number),
  );
}

function showMemory(config: RunConfig, maxBufferBytes: number): void {
  const layout = paramLayout(config.model);
  const total = volunteerMemoryBytes(config.model, config.inner.batchSize, config.inner.seqLen);
  setText(
    'gpu',
    `${$('gpu').textContent}. This run needs about ${bytes(total)} of GPU memory (${layout.paramCount.toLocaleString('en')} parameters); the largest buffer your GPU allows is ${bytes(maxBufferBytes)}.`,
  );
}

function setupControls(engine: ReturnType<typeof workerEngine>): void {
  const pause = $<HTMLButtonElement>('pause');
  pause.disabled = false;
  let paused = false;
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    void volunteer?.setPaused(paused);
    setText('status', paused ? 'Paused: your GPU is idle. The run goes on without you.' : 'Resumed.');
    if (paused) localStorage.removeItem(DONATING_KEY);
    else localStorage.setItem(DONATING_KEY, '1');
  });
  const throttle = $<HTMLInputElement>('throttle');
  throttle.addEventListener('input', () => {
    const duty = Number(throttle.value) / 100;
    setText('throttle-value', `${throttle.value}%`);
    void engine.setDutyCycle(duty);
  });
}

// Leaving the tab leaves the round cleanly: the relay stops waiting for this volunteer at once.
addEventListener('pagehide', () => teardown?.());

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
