// The data plane of bench:scale: the in-memory transport (real chunking, real byte counts)
// behind the mesh interface a volunteer uses. A link is counted while it is wanted: the
// volunteer's connections are the ones it asked for, as with the WebRTC mesh.
import type { FrameError } from '../../../protocol/frame-errors.ts';
import type { FrameNetwork } from '../../../web/src/peer/volunteer.ts';
import type { MemoryNetwork, MemoryTransport } from '../../helpers/memory-transport.ts';

export class BenchMesh implements FrameNetwork {
  private readonly transport: MemoryTransport;
  private readonly wanted = new Set<string>();
  /** Links ever opened: a link kept from one round to the next is opened once. */
  opened = 0;

  constructor(network: MemoryNetwork, id: string) {
    this.transport = network.join(id);
  }

  connect(keys: readonly string[]): void {
    for (const key of keys)
      if (!this.wanted.has(key)) {
        this.wanted.add(key);
        this.opened++;
      }
  }

  release(key: string): void {
    this.wanted.delete(key);
  }

  send(to: string, message: Uint8Array): Promise<void> {
    return this.transport.send(to, message);
  }

  onMessage(handler: (from: string, message: Uint8Array) => void): () => void {
    return this.transport.onMessage(handler);
  }

  onPeerRefused(_handler: (key: string, error: FrameError) => void): () => void {
    return () => undefined;
  }

  get traffic() {
    return this.transport.traffic;
  }

  get connectedPeers(): readonly string[] {
    return [...this.wanted];
  }
}
