// What the page shows of a DiLoCo run: the round engine's events (web/src/peer/volunteer.ts)
// written into the page's figures and charts, and published to the swarm document for the
// other volunteers' tables. Paused, the page says so and shows no speed; the speed shown is the
// one delivered (delivered-speed.ts), beside the speed while working.
import type { SwarmDoc } from '../peer/swarm-doc.ts';
import type { VolunteerEvent } from '../peer/volunteer.ts';
import type { LiveChart } from './charts.ts';
import { DeliveredSpeed } from './delivered-speed.ts';
import { bytes, setText } from './page-view.ts';

/** How often the delivered speed is redrawn: it falls while no step comes (throttle, pause). */
const SPEED_REFRESH_MS = 1_000;

/** Shown for a speed there is none of (paused). */
const NO_SPEED = '—';

export interface RoundViewOptions {
  readonly swarm: SwarmDoc;
  readonly lossChart: LiveChart;
  /** A round was committed: the run's curve has a new point. */
  readonly refreshRun: () => void;
  /** Redraws the receipts; resolves to the credits they hold. */
  readonly showReceipts: () => Promise<number>;
  /** A commit carried the relay's signed head: compare it with the newest seen. */
  readonly watchHead: (head: { height: number; hash: string }) => void;
  /** Tokens each inner step trains (batch size × sequence length). */
  readonly tokensPerStep: number;
  /** Wall-clock milliseconds, for the delivered speed; tests pass their own. */
  readonly now?: () => number;
}

export interface RoundView {
  /** The round runtime's onEvent. */
  readonly onEvent: (event: VolunteerEvent) => void;
  /** The person paused or resumed: the phase reads "paused" and no speed is shown meanwhile. */
  readonly setPaused: (paused: boolean) => void;
  /** Stops redrawing the speed. */
  readonly stop: () => void;
}

const speedText = (tokensPerSec: number) => Math.round(tokensPerSec).toLocaleString('en');

export function roundView(o: RoundViewOptions): RoundView {
  let steps = 0;
  let paused = false;
  /** The phase the rounds are in, shown again on resume. */
  let phase = '–';
  const delivered = new DeliveredSpeed(o.now);
  const showPhase = () => setText('phase', paused ? 'paused' : phase);
  // The swarm table shows the same delivered speed, falling as it does between throttled steps.
  const showDelivered = () => {
    if (paused) return;
    setText('speed', speedText(delivered.tokensPerSec()));
    o.swarm.publish({ tokensPerSec: delivered.tokensPerSec() });
  };
  const refresh = setInterval(showDelivered, SPEED_REFRESH_MS);
  const setPaused = (pause: boolean) => {
    paused = pause;
    if (paused) {
      setText('speed', NO_SPEED);
      setText('speed-working', NO_SPEED);
      o.swarm.publish({ phase: 'paused', tokensPerSec: 0 });
    } else showDelivered();
    showPhase();
  };
  const onEvent = (event: VolunteerEvent) => {
    switch (event.type) {
      case 'status':
        return setText('status', event.text);
      case 'step':
        steps++;
        delivered.step(o.tokensPerStep, (o.tokensPerStep * 1000) / event.progress.tokensPerSec);
        o.lossChart.push(steps, event.progress.loss);
        setText('loss-now', event.progress.loss.toFixed(3));
        phase = `training ${event.progress.step}/${event.progress.steps}`;
        // A step that was under way when the person pressed Pause still lands; it changes nothing shown.
        if (paused) return;
        o.swarm.publish({
          round: event.round,
          phase: 'training',
          loss: event.progress.loss,
          tokensPerSec: delivered.tokensPerSec(),
        });
        showDelivered();
        setText('speed-working', speedText(delivered.whileWorking()));
        showPhase();
        return;
      case 'round':
        if (!paused) o.swarm.publish({ round: event.round, phase: event.phase });
        setText('round', String(event.round));
        phase = event.phase;
        showPhase();
        if (event.peers > 0) setText('peers', String(event.peers));
        if (paused) return; // the status keeps saying the GPU is idle
        if (event.phase === 'training')
          setText('status', `Training round ${event.round} in a group of ${event.peers} volunteers.`);
        if (event.phase === 'summing')
          setText(
            'status',
            `Round ${event.round}: applying the aggregate of ${event.peers} volunteers' work.`,
          );
        return;
      case 'committed':
        o.refreshRun();
        return setText(
          'status',
          `Round ${event.round} committed: every volunteer holds model ${event.hash.slice(0, 12)}.`,
        );
      case 'traffic':
        o.swarm.publish({ bytesSent: event.bytesSent, bytesReceived: event.bytesReceived });
        setText('sent', bytes(event.bytesSent));
        setText('received', bytes(event.bytesReceived));
        setText('compression', `${Math.round(event.denseBytes / Math.max(1, event.frameBytes))}x`);
        setText('links', linksText(event));
        return;
      case 'receipt':
        void o.showReceipts();
        return;
      case 'head':
        return o.watchHead(event);
    }
  };
  return { onEvent, setPaused, stop: () => clearInterval(refresh) };
}

/** "15 links, set up in 0.8 s", and how many go through the relay's TURN server when any do. */
function linksText(event: Extract<VolunteerEvent, { type: 'traffic' }>): string {
  const setup = event.linkSetupMs === null ? '' : `, set up in ${(event.linkSetupMs / 1000).toFixed(1)} s`;
  const turn =
    event.relayedLinks > 0 ? ` (${event.relayedLinks} through the TURN relay: no direct route)` : '';
  return `${event.links}${turn}${setup}`;
}
