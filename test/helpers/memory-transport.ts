// An in-memory network for the swarm simulator and tests: the real chunking and reassembly
// (protocol/frame-chunks.ts), the real byte counts, only the wire replaced by a function call.
import { ChunkAssembler, splitIntoChunks } from '../../protocol/frame-chunks.ts';
import { emptyTraffic, type TrafficStats, type Transport } from '../../web/src/peer/transport.ts';

export class MemoryNetwork {
  private readonly peers = new Map<string, MemoryTransport>();

  /** A transport for peer `id`, reachable by every other peer on this network. */
  join(id: string): MemoryTransport {
    if (this.peers.has(id)) throw new RangeError(`peer ${id} already joined`);
    const transport = new MemoryTransport(id, this);
    this.peers.set(id, transport);
    return transport;
  }

  leave(id: string): void {
    this.peers.delete(id);
  }

  /** Hands a chunk to `to`; false when no such peer is connected (the chunk is lost). */
  deliver(from: string, to: string, chunk: Uint8Array): boolean {
    const peer = this.peers.get(to);
    if (!peer) return false;
    peer.receive(from, chunk);
    return true;
  }
}

export class MemoryTransport implements Transport {
  readonly traffic: TrafficStats = emptyTraffic();
  private readonly handlers = new Set<(from: string, message: Uint8Array) => void>();
  private readonly assemblers = new Map<string, ChunkAssembler>();
  private nextMessageId = 0;

  constructor(
    readonly id: string,
    private readonly network: MemoryNetwork,
  ) {}

  async send(to: string, message: Uint8Array): Promise<void> {
    const messageId = this.nextMessageId;
    this.nextMessageId = (this.nextMessageId + 1) >>> 0;
    for (const chunk of splitIntoChunks(messageId, message)) {
      // A copy, as a real channel would: the receiver must not share the sender's memory.
      if (!this.network.deliver(this.id, to, chunk.slice())) return;
      this.traffic.bytesSent += chunk.byteLength;
    }
    this.traffic.messagesSent++;
  }

  onMessage(handler: (from: string, message: Uint8Array) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** One chunk from `from`; reassembled per sender, so senders cannot corrupt each other. */
  receive(from: string, chunk: Uint8Array): void {
    this.traffic.bytesReceived += chunk.byteLength;
    let assembler = this.assemblers.get(from);
    if (!assembler) {
      assembler = new ChunkAssembler();
      this.assemblers.set(from, assembler);
    }
    const result = assembler.push(chunk);
    if (result.status === 'refused') {
      this.traffic.refused++;
      return;
    }
    if (result.status !== 'complete') return;
    this.traffic.messagesReceived++;
    for (const handler of this.handlers) handler(from, result.bytes);
  }
}
