// The volunteer page: probes WebGPU, then on "Donate my GPU" joins the relay's run with the
// peer runtime (web/src/peer/volunteer.ts) around a round engine in a dedicated worker, and
// shows what the GPU is doing. Identity, the last committed state and receipts live in
// IndexedDB, so a reload resumes where it was (and resumes donating if it was donating). A
// dropped connection or a relay restart is waited out and the tab rejoins
// (peer/reconnecting-link.ts), showing "reconnecting" meanwhile; when the run has other relays,
// on the next of them (peer/relay-rotation.ts), whose HTTP API the tab then uses too.
import { proxy, wrap } from 'comlink';
import SimplePeer from 'simple-peer/simplepeer.min.js';
import { creditsOf } from '../../protocol/credits.ts';
import { volunteerMemoryBytes } from '../../protocol/model-memory.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import { formatCredits } from './leaderboard/format.ts';
import { PublicApi } from './leaderboard/public-api.ts';
import { headWarning } from './peer/head-warning.ts';
import { HeadWatch } from './peer/head-watch.ts';
import { IdbVolunteerStore } from './peer/idb-store.ts';
import { identityFromKeyPair, type PeerIdentity } from './peer/identity.ts';
import { keptStamps, type StampSource } from './peer/kept-stamp.ts';
import type { MeshPeerConstructor } from './peer/mesh-simple-peer.ts';
import { attachPeers, ReconnectingLink } from './peer/reconnecting-link.ts';
import { RelayApi } from './peer/relay-api.ts';
import { RelayRotation } from './peer/relay-rotation.ts';
import {
  connectToRelay,
  type LinkPlatform,
  openMesh,
  type RunLink,
  roundVolunteer,
} from './peer/run-link.ts';
import { adapterReport } from './peer/swarm-client.ts';
import { SwarmDoc } from './peer/swarm-doc.ts';
import { followMembers } from './peer/swarm-members.ts';
import type { Volunteer } from './peer/volunteer.ts';
import { LiveChart } from './volunteer/charts.ts';
import { linkStatusView } from './volunteer/link-status-view.ts';
import { nameField, showNameRefusal } from './volunteer/name-field.ts';
import { disableThrottle, offerDonation, setupControls } from './volunteer/page-controls.ts';
import { $, bytes, fail, setText } from './volunteer/page-view.ts';
import { startPipelinePage } from './volunteer/pipeline-page.ts';
import { roundView } from './volunteer/round-view.ts';
import { showSwarm } from './volunteer/swarm-table.ts';
import { showNoWebGpu } from './volunteer/webgpu-help.ts';
import { roundEngineIn } from './volunteer/worker-engines.ts';
import type { VolunteerWorkerApi } from './worker/volunteer-api.ts';
import VolunteerWorker from './worker/volunteer-worker.ts?worker';

const RUN_REFRESH_MS = 5_000;

const BROWSER: LinkPlatform = {
  platform: 'browser',
  socket: (url) => new WebSocket(url) as never,
  SimplePeer: SimplePeer as unknown as MeshPeerConstructor,
};

const store = new IdbVolunteerStore();
const worker = wrap<VolunteerWorkerApi>(new VolunteerWorker());
let identity: PeerIdentity;
let stamps: StampSource;
let chosenName: () => Promise<string>;
let volunteer: Volunteer | null = null;
let teardown: (() => void) | null = null;

async function showReceipts(): Promise<number> {
  const receipts = await store.receipts();
  const credits = receipts.reduce((sum, r) => sum + creditsOf(r.entry.flops), 0);
  setText('receipts', String(receipts.length));
  setText('credits', credits === 0 || credits >= 0.01 ? credits.toFixed(3) : credits.toExponential(2));
  return credits;
}

// The newest signed head seen, kept across reloads: a relay whose head later goes backwards
// or forks is shown up (peer/head-watch.ts).
const watchHead = headWarning(
  new HeadWatch({ load: () => store.seenHead(), save: (head) => store.saveSeenHead(head) }, (height) =>
    new PublicApi().hashAt(height),
  ),
  $('head-warning'),
);

async function main(): Promise<void> {
  // Away from localhost, browsers give WebGPU, WebRTC and even crypto.subtle (which makes our
  // identity) only to pages served over HTTPS: say so, rather than fail on a missing API below.
  if (!isSecureContext) {
    fail(
      'This page needs HTTPS: browsers only give WebGPU and WebRTC to secure pages. Open it at its https:// address, or ask whoever runs this relay to serve it over HTTPS (see "Running a public relay" in the Potluck README).',
    );
    return;
  }
  identity = await identityFromKeyPair(await store.keyPair());
  setText('peer-id', identity.publicKey);
  chosenName = await nameField(store, identity.publicKey);
  // The stamp is minted in the worker (seconds of hashing), once per run, and kept in IndexedDB.
  stamps = keptStamps(store, identity.publicKey, (runId, publicKey, bits) => {
    const expected = 2 ** bits;
    setText('status', 'Proving your identity (once per run)…');
    const onProgress = proxy((tried: number) =>
      setText(
        'status',
        `Proving your identity (once per run)… ${Math.min(99, Math.floor((100 * tried) / expected))}% of the expected work`,
      ),
    );
    return worker.mintStamp(runId, publicKey, bits, onProgress).finally(() => {
      setText('status', 'Connecting to the relay…');
    });
  });
  await showReceipts();
  if (!('gpu' in navigator)) {
    showNoWebGpu('no-api');
    return;
  }
  let adapter: Awaited<ReturnType<VolunteerWorkerApi['adapter']>>;
  try {
    adapter = await worker.adapter();
  } catch (error) {
    showNoWebGpu('no-adapter', error instanceof Error ? error.message : String(error));
    return;
  }
  const name = [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' ');
  setText('gpu', `GPU: ${name}${adapter.isSoftware ? ' (a CPU fallback: slow, but it counts)' : ''}`);
  setText('status', 'Ready. Your GPU stays idle until you press the button.');
  offerDonation(
    () => join(adapter),
    (error) => {
      if (!showNameRefusal(error)) fail(`Could not join: ${error instanceof Error ? error.message : error}`);
    },
  );
}

async function join(adapter: Awaited<ReturnType<VolunteerWorkerApi['adapter']>>): Promise<void> {
  const origin = location.origin;
  // The relay that served the page first, then whichever of the run's relays the /swarm
  // connection fails over to: the tab's HTTP API follows it (the relay's /api/* allows CORS).
  const relays = new RelayRotation(origin);
  const name = await chosenName();
  setText('status', 'Connecting to the relay…');
  const joined = await connectToRelay(relays.current, identity, stamps, name, BROWSER);
  const { client, config } = joined;
  showMemory(config, adapter.maxBufferBytes);
  setText('status', 'Preparing the model on your GPU…');
  const link = await openMesh(() => relays.current, joined, BROWSER);
  const swarm = new SwarmDoc({
    runId: client.runId,
    identity,
    name,
    signalingUrl: `${origin.replace(/^http/, 'ws')}/signal`,
    iceServers: client.iceServers,
  });
  // The swarm table shows whom the relay seats with us, told on each /swarm connection.
  followMembers(client, swarm);
  // After a dropped connection or a relay restart: the same key, the same mesh (its /signal
  // reconnects itself, to the relay in use), a new /swarm connection (peer/reconnecting-link.ts)
  // to the relay the link moved on to.
  const reconnect = async (): Promise<RunLink> => {
    const next = await connectToRelay(relays.current, identity, stamps, name, BROWSER);
    followMembers(next.client, swarm);
    return { ...next, signal: link.signal, mesh: link.mesh };
  };
  const swarmTable = showSwarm($<HTMLTableElement>('swarm'), swarm, identity.publicKey);
  const lossChart = new LiveChart($('loss-chart'), 'step', 'loss (nats)', '#2f6f4f');
  const runChart = new LiveChart($('run-chart'), 'round', 'loss (nats)', '#8a4b9c');
  const relayApi = new RelayApi(() => relays.current, client.runId);
  // Credits change only when a round commits: fetched then (and once now), not on the timer.
  // This volunteer's own credit as the relay's ledger holds it: verified once a check of its work
  // passed, provisional until then (the receipts count both).
  const refreshCredits = () =>
    void relayApi
      .leaderboard()
      .then((rows) => {
        swarmTable.showCredits(new Map(rows.map((row) => [row.publicKey, row.verifiedCredits])));
        const mine = rows.find((row) => row.publicKey === identity.publicKey);
        if (mine)
          setText(
            'credits',
            `${formatCredits(mine.verifiedCredits)} verified · ${formatCredits(mine.provisionalCredits)} provisional${mine.banned ? ' · banned' : ''}`,
          );
      })
      .catch(() => undefined); // the table keeps the last figures; the next commit tries again
  const onCommitted = () => {
    void refreshRun(relayApi, runChart);
    refreshCredits();
  };
  const refresh = setInterval(() => void refreshRun(relayApi, runChart), RUN_REFRESH_MS);
  onCommitted();
  const closeAll = () => {
    clearInterval(refresh);
    swarmTable.hide();
    void swarm.destroy();
    link.mesh.destroy();
    link.signal.close();
  };
  if (config.pipeline) {
    const stop = await startPipelinePage({
      link,
      reconnect,
      relays,
      onStatus: linkStatusView(),
      store,
      worker,
      swarm,
      adapter: adapterReport(adapter),
      maxBufferBytes: adapter.maxBufferBytes,
      lossChart,
      refreshRun: onCommitted,
      showReceipts,
    });
    disableThrottle();
    teardown = () => {
      stop('the tab closed');
      closeAll();
    };
    return;
  }
  const engine = await roundEngineIn(worker, config, identity.publicKey);
  const view = roundView({
    swarm,
    lossChart,
    refreshRun: onCommitted,
    showReceipts,
    watchHead,
    tokensPerStep: config.inner.batchSize * config.inner.seqLen,
  });
  const onEvent = view.onEvent;
  // Pause outlives a connection: a volunteer started after a reconnect starts paused too.
  let paused = false;
  const kept = await ReconnectingLink.start(link, {
    connect: reconnect,
    attach: attachPeers(
      (connection: RunLink) =>
        roundVolunteer(connection, {
          engine,
          store,
          adapter: adapterReport(adapter),
          paramCount: paramLayout(config.model).paramCount,
          onEvent,
        }),
      () => engine.discard(), // the round the relay forgot when the connection dropped
      (started) => {
        volunteer = started;
        if (paused) void started.setPaused(true); // its flag is set before start() asks for work
      },
    ),
    onStatus: linkStatusView(),
    relays,
  });
  setText('status', `Joined run ${client.runId}. Waiting for the next round…`);
  setupControls(
    {
      setPaused: async (pause) => {
        paused = pause;
        await volunteer?.setPaused(pause);
      },
    },
    engine,
    view,
  );
  teardown = () => {
    void kept.stop('the tab closed');
    view.stop();
    closeAll();
  };
}

async function refreshRun(api: RelayApi, chart: LiveChart): Promise<void> {
  const loss = await api.lossCurve().catch(() => null);
  if (!loss) return;
  const points = loss.filter((p) => p.trainLoss !== null);
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

// Leaving the tab leaves the round cleanly: the relay stops waiting for this volunteer at once.
addEventListener('pagehide', () => teardown?.());

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
