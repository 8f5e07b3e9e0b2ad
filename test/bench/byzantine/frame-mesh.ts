// The in-memory mesh of bench:byzantine: the real chunking and reassembly
// (test/helpers/memory-transport.ts), and each member (the relay too) keeps the last frame each
// sender sent it this round, so an equivocator's two copies can be compared.
import { MemoryNetwork, type MemoryTransport } from '../../helpers/memory-transport.ts';

export class Mesh {
  private readonly network = new MemoryNetwork();
  private readonly transports = new Map<string, MemoryTransport>();
  private readonly inboxes = new Map<string, Map<string, Uint8Array>>();

  constructor(readonly ids: readonly string[]) {
    for (const id of ids) {
      const inbox = new Map<string, Uint8Array>();
      this.inboxes.set(id, inbox);
      const transport = this.network.join(id);
      transport.onMessage((from, message) => inbox.set(from, message));
      this.transports.set(id, transport);
    }
  }

  send(from: string, to: string, frame: Uint8Array): Promise<void> {
    return (this.transports.get(from) as MemoryTransport).send(to, frame);
  }

  /** What `holder` received from `sender` this round (nothing: an empty message). */
  held(holder: string, sender: string): Uint8Array {
    return this.inboxes.get(holder)?.get(sender) ?? new Uint8Array(0);
  }

  clear(): void {
    for (const inbox of this.inboxes.values()) inbox.clear();
  }
}
