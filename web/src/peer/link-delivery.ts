// Sending a frame to a neighbour on the pipeline's route: the first frames of a step may be
// ready before the mesh has connected to that neighbour, and a link may drop and come back
// within the step. The send waits for the link's next change, never polls, and gives up when
// the step ends: a peer that left makes the relay abort the step.
import type { StageStep } from './stage-step.ts';

/** What delivery needs of the mesh (PeerMesh, mesh.ts). */
export interface LinkNetwork {
  send(to: string, message: Uint8Array): Promise<void>;
  readonly connectedPeers: readonly string[];
  onPeerUp(handler: (key: string) => void): () => void;
  onPeerDown(handler: (key: string) => void): () => void;
}

/** Sends `bytes` to `to` once its link is up, retrying after the link changes, until `step` ends. */
export async function deliver(
  network: LinkNetwork,
  step: Pick<StageStep, 'until' | 'recheck' | 'aborted'>,
  to: string,
  bytes: Uint8Array,
): Promise<void> {
  while (!step.aborted) {
    // Listen before trying: the link may go down and up while the send is under way.
    let changed = false;
    const onChange = (key: string) => {
      if (key !== to) return;
      changed = true;
      step.recheck();
    };
    const stops = [network.onPeerUp(onChange), network.onPeerDown(onChange)];
    try {
      if (network.connectedPeers.includes(to)) {
        const sent = await network.send(to, bytes).then(
          () => true,
          () => false,
        );
        if (sent) return;
      }
      if (!(await step.until(() => changed))) return;
    } finally {
      for (const stop of stops) stop();
    }
  }
}
