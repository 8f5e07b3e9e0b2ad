// The volunteer page in a pipeline-parallel run: the stage engine in the worker, the pipeline
// peer runtime (web/src/peer/pipeline-volunteer.ts) on the page's mesh, and the same figures and
// charts as a data-parallel run, read as a stage sees them: which stage and layers this GPU
// holds, the step and its phase, microbatches per second, the activation compression on the
// wire, and (on the last stage, the only one that sees it) the loss of each microbatch.
import type { Remote } from 'comlink';
import { activationFrameBytes } from '../../../protocol/activation-frame.ts';
import { HeldStage } from '../peer/held-stage.ts';
import type { PipelineEvent } from '../peer/pipeline-events.ts';
import { PipelineVolunteer } from '../peer/pipeline-volunteer.ts';
import { attachPeers, type LinkStatus, ReconnectingLink } from '../peer/reconnecting-link.ts';
import type { RelayRotation } from '../peer/relay-rotation.ts';
import type { RunLink } from '../peer/run-link.ts';
import type { SwarmDoc } from '../peer/swarm-doc.ts';
import type { VolunteerStore } from '../peer/volunteer.ts';
import type { VolunteerWorkerApi } from '../worker/volunteer-api.ts';
import type { LiveChart } from './charts.ts';
import { bytes, setText } from './page-view.ts';
import { stageEngineIn } from './worker-engines.ts';

/** A step's phases as the swarm table names a round's. */
const SWARM_PHASE = {
  microbatches: 'training',
  sync: 'exchanging',
  reported: 'summing',
  committed: 'committed',
  aborted: 'aborted',
} as const;

export interface PipelinePageOptions {
  /** The first connection, with the mesh. */
  readonly link: RunLink;
  /** A new connection after a drop: the same key and mesh, on `relays.current`. */
  readonly reconnect: () => Promise<RunLink>;
  /** The run's relays, which a drop fails over between. */
  readonly relays: RelayRotation;
  readonly onStatus: (status: LinkStatus) => void;
  readonly store: VolunteerStore;
  readonly worker: Remote<VolunteerWorkerApi>;
  readonly swarm: SwarmDoc;
  readonly adapter: { vendor: string; architecture: string; description: string; isSoftware: boolean };
  readonly maxBufferBytes: number;
  readonly lossChart: LiveChart;
  readonly refreshRun: () => void;
  readonly showReceipts: () => Promise<number>;
}

const layersText = (l: { start: number; end: number }) =>
  l.end - l.start === 1 ? `layer ${l.start}` : `layers ${l.start}–${l.end - 1}`;

/** Starts the pipeline volunteer; resolves to its stop(). */
export async function startPipelinePage(o: PipelinePageOptions): Promise<(reason: string) => void> {
  const { config } = o.link;
  const pipeline = config.pipeline;
  if (!pipeline) throw new Error('not a pipeline run');
  const engine = await stageEngineIn(o.worker, config, o.link.identity.publicKey);
  const held = new HeldStage();
  const values = pipeline.microbatchSize * config.inner.seqLen * config.model.dModel;
  const ratio = (values * 4) / activationFrameBytes(pipeline.forward, values, pipeline.blockSize);
  setText('compression', `${pipeline.forward} ↑ ${pipeline.backward} ↓ (${ratio.toFixed(1)}x)`);
  let stageText = 'waiting for a stage';
  let microbatches = 0;
  const started = performance.now();
  const tokensPerMicrobatch = pipeline.microbatchSize * config.inner.seqLen;
  const onEvent = (event: PipelineEvent) => {
    switch (event.type) {
      case 'status':
        return setText('status', event.text);
      case 'stage':
        stageText = `stage ${event.stage + 1} of ${event.stages} (${layersText(event.layers)}${event.stage === 0 ? ', embedding' : ''}${event.stage === event.stages - 1 ? ', head' : ''})`;
        setText('status', `Your GPU holds ${stageText}.`);
        return;
      case 'step':
        setText('round', String(event.step));
        setText('phase', `${stageText}: ${event.phase}`);
        if (event.peers > 0) setText('peers', String(event.peers));
        o.swarm.publish({ round: event.step, phase: SWARM_PHASE[event.phase] });
        return;
      case 'microbatch': {
        microbatches++;
        const tokensPerSec = (microbatches * tokensPerMicrobatch * 1000) / (performance.now() - started);
        setText('speed', Math.round(tokensPerSec).toLocaleString('en'));
        o.swarm.publish({ tokensPerSec });
        if (event.loss !== null) {
          o.lossChart.push(microbatches, event.loss);
          setText('loss-now', event.loss.toFixed(3));
          o.swarm.publish({ loss: event.loss });
        }
        return;
      }
      case 'committed':
        o.refreshRun();
        return setText(
          'status',
          `Step ${event.step} committed: every replica of your stage holds the same weights.`,
        );
      case 'traffic':
        o.swarm.publish({ bytesSent: event.bytesSent, bytesReceived: event.bytesReceived });
        setText('sent', bytes(event.bytesSent));
        setText('received', bytes(event.bytesReceived));
        return;
      case 'receipt':
        void o.showReceipts();
        return;
    }
  };
  const capabilities = {
    adapter: o.adapter,
    maxBufferBytes: o.maxBufferBytes,
    memoryBytes: o.maxBufferBytes,
    tokensPerSec: 0,
    uplinkBytesPerSec: 0,
    downlinkBytesPerSec: 0,
  };
  const kept = await ReconnectingLink.start(o.link, {
    connect: o.reconnect,
    attach: attachPeers(
      (connection: RunLink) =>
        new PipelineVolunteer({
          client: connection.client,
          network: connection.mesh,
          engine,
          held,
          relay: connection.relay,
          store: o.store,
          capabilities,
          onEvent,
        }),
      // The stage outlives a drop: the stopped volunteer rolled back its step in flight as it went
      // idle, and the next one claims the stage's committed state in its `ready`.
      async () => {},
    ),
    onStatus: o.onStatus,
    relays: o.relays,
  });
  setText(
    'status',
    `Joined pipeline run ${o.link.client.runId}: the model is cut into ${pipeline.stages} stages; waiting to be seated.`,
  );
  return (reason) => void kept.stop(reason);
}
