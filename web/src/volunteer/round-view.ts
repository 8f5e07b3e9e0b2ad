// What the page shows of a DiLoCo run: the round engine's events (web/src/peer/volunteer.ts)
// written into the page's figures and charts, and published to the swarm document for the
// other volunteers' tables.
import type { SwarmDoc } from '../peer/swarm-doc.ts';
import type { VolunteerEvent } from '../peer/volunteer.ts';
import type { LiveChart } from './charts.ts';
import { bytes, setText } from './page-view.ts';

export interface RoundViewOptions {
  readonly swarm: SwarmDoc;
  readonly lossChart: LiveChart;
  /** A round was committed: the run's curve has a new point. */
  readonly refreshRun: () => void;
  /** Redraws the receipts; resolves to the credits they hold. */
  readonly showReceipts: () => Promise<number>;
  /** A commit carried the relay's signed head: compare it with the newest seen. */
  readonly watchHead: (head: { height: number; hash: string }) => void;
}

/** The round runtime's onEvent. */
export function roundView(o: RoundViewOptions): (event: VolunteerEvent) => void {
  let steps = 0;
  return (event) => {
    switch (event.type) {
      case 'status':
        return setText('status', event.text);
      case 'step':
        steps++;
        o.swarm.publish({
          round: event.round,
          phase: 'training',
          loss: event.progress.loss,
          tokensPerSec: event.progress.tokensPerSec,
        });
        o.lossChart.push(steps, event.progress.loss);
        setText('loss-now', event.progress.loss.toFixed(3));
        setText('speed', Math.round(event.progress.tokensPerSec).toLocaleString('en'));
        setText('phase', `training ${event.progress.step}/${event.progress.steps}`);
        return;
      case 'round':
        o.swarm.publish({ round: event.round, phase: event.phase });
        setText('round', String(event.round));
        setText('phase', event.phase);
        if (event.peers > 0) setText('peers', String(event.peers));
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
}

/** "15 links, set up in 0.8 s", and how many go through the relay's TURN server when any do. */
function linksText(event: Extract<VolunteerEvent, { type: 'traffic' }>): string {
  const setup = event.linkSetupMs === null ? '' : `, set up in ${(event.linkSetupMs / 1000).toFixed(1)} s`;
  const turn =
    event.relayedLinks > 0 ? ` (${event.relayedLinks} through the TURN relay: no direct route)` : '';
  return `${event.links}${turn}${setup}`;
}
