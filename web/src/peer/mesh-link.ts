// One connection of the mesh: a simple-peer to one remote key, from the first signal to the
// close. It authenticates the channel (channel-auth.ts) before anything else, then carries
// whole messages as chunks (protocol/frame-chunks.ts) written with backpressure
// (channel-writer.ts) and reassembled by an assembler of its own, so one sender's chunks never
// touch another's. Nothing the other side sends can throw out of here: bad frames are counted
// and, before authentication, cost the other side this link.

import { ChunkAssembler, splitIntoChunks } from '../../../protocol/frame-chunks.ts';
import type { FrameError } from '../../../protocol/frame-errors.ts';
import { decodeAuthFrame, isAuthFrame } from '../../../protocol/mesh-auth-frame.ts';
import { ChannelAuth } from './channel-auth.ts';
import { ChannelClosedError, ChannelWriter } from './channel-writer.ts';
import type { PeerIdentity } from './identity.ts';
import { MeshError, type PeerDownReason } from './mesh-errors.ts';
import type { MeshLimits } from './mesh-limits.ts';
import type { MeshSignalData } from './mesh-signals.ts';
import type { MeshDataChannel, MeshPeer } from './mesh-simple-peer.ts';
import type { TrafficStats } from './transport.ts';

/**
 * Auth frames that may arrive before our own 'connect' event (the other side's channel can
 * open first): its challenge, response and accepted. More than that is not a handshake.
 */
export const MAX_EARLY_FRAMES = 3;

export interface MeshLinkEvents {
  /** simple-peer has signal data for the other side (publish it). */
  signal(data: unknown): void;
  /** Authenticated both ways: messages may flow. */
  up(): void;
  /** The link is over; `wasUp` says whether up() had been called. Called once. */
  down(reason: PeerDownReason, wasUp: boolean): void;
  /** One whole message from the other side. */
  message(bytes: Uint8Array): void;
  /**
   * The other side announced a message (or sent a chunk) larger than the limits allow, which
   * an honest peer never does; the link closes with 'refused' right after.
   */
  refused(error: FrameError): void;
}

export interface MeshLinkOptions {
  readonly remoteKey: string;
  /** The initiator's attempt id, carried on every signal of this link. */
  readonly session: string;
  readonly peer: MeshPeer;
  readonly identity: PeerIdentity;
  readonly runId: string;
  readonly limits: MeshLimits;
  readonly random: (bytes: number) => Uint8Array<ArrayBuffer>;
  /** The mesh's counters, shared by all its links. */
  readonly traffic: TrafficStats;
  /** Called each time a write waits for the channel to drain. */
  readonly onBackpressure?: () => void;
  readonly events: MeshLinkEvents;
}

export type MeshLinkState = 'connecting' | 'authenticating' | 'up' | 'closed';

function isDataChannel(channel: unknown): channel is MeshDataChannel {
  const candidate = channel as Partial<MeshDataChannel> | null | undefined;
  return typeof candidate?.send === 'function' && typeof candidate.bufferedAmount === 'number';
}

export class MeshLink {
  readonly remoteKey: string;
  readonly session: string;
  private linkState: MeshLinkState = 'connecting';
  private readonly auth: ChannelAuth;
  private readonly assembler: ChunkAssembler;
  private writer: ChannelWriter | undefined;
  private readonly early: Uint8Array[] = [];
  /** Writes, one after another: auth frames, then whole messages, never interleaved. */
  private tail: Promise<void> = Promise.resolve();
  private nextMessageId = 0;
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(private readonly options: MeshLinkOptions) {
    const { peer, limits, events } = options;
    this.remoteKey = options.remoteKey;
    this.session = options.session;
    this.assembler = new ChunkAssembler({ maxMessageBytes: limits.maxMessageBytes });
    this.auth = new ChannelAuth({
      identity: options.identity,
      runId: options.runId,
      remoteKey: options.remoteKey,
      random: options.random,
      send: (frame) => {
        this.enqueue(() => this.writer?.write(frame)).catch(() => this.close('closed'));
      },
      done: (failure) => {
        if (failure) this.close(failure);
        else this.onAuthenticated();
      },
    });
    peer.on('signal', (data: unknown) => {
      if (this.linkState !== 'closed') events.signal(data);
    });
    peer.on('connect', () => this.onConnect());
    peer.on('data', (data: unknown) => this.onData(data));
    peer.on('close', () => this.close('closed'));
    // Without a listener simple-peer's 'error' (an EventEmitter event) would be thrown.
    peer.on('error', () => this.close('error'));
    this.timer = setTimeout(() => this.close('timeout'), limits.connectTimeoutMs);
  }

  get state(): MeshLinkState {
    return this.linkState;
  }

  /** The other side's offer, answer or ICE candidate. */
  signal(data: MeshSignalData): void {
    if (this.linkState === 'closed') return;
    try {
      this.options.peer.signal(data);
    } catch {
      // simple-peer throws only once destroyed, which 'close' reports.
      this.close('error');
    }
  }

  /** Writes one whole message; resolves once all its chunks are handed to the channel. */
  send(message: Uint8Array): Promise<void> {
    return this.enqueue(async () => {
      const { traffic, limits } = this.options;
      const messageId = this.nextMessageId;
      this.nextMessageId = (this.nextMessageId + 1) >>> 0;
      for (const chunk of splitIntoChunks(messageId, message, limits.chunkBytes)) {
        if (this.linkState !== 'up' || !this.writer) throw this.closedError();
        try {
          await this.writer.write(chunk);
        } catch (error) {
          if (error instanceof ChannelClosedError) {
            this.close('closed');
            throw this.closedError();
          }
          throw error;
        }
        traffic.bytesSent += chunk.byteLength;
      }
      traffic.messagesSent++;
    });
  }

  /** Ends the link and tells the mesh once. Safe to call twice. */
  close(reason: PeerDownReason): void {
    if (this.linkState === 'closed') return;
    const wasUp = this.linkState === 'up';
    this.linkState = 'closed';
    clearTimeout(this.timer);
    this.auth.cancel();
    this.writer?.close();
    this.early.length = 0;
    this.options.peer.destroy();
    this.options.events.down(reason, wasUp);
  }

  private closedError(): MeshError {
    return new MeshError('ERR_MESH_PEER_CLOSED', `the link to ${this.remoteKey} closed`);
  }

  private enqueue(job: () => Promise<void> | undefined): Promise<void> {
    const run = this.tail.then(job);
    this.tail = run.catch(() => {});
    return run;
  }

  private onConnect(): void {
    if (this.linkState !== 'connecting') return;
    const channel = this.options.peer._channel;
    if (!isDataChannel(channel)) {
      this.close('error');
      return;
    }
    const { highWaterMark, lowWaterMark } = this.options.limits;
    this.writer = new ChannelWriter(channel, {
      highWaterMark,
      lowWaterMark,
      onWait: this.options.onBackpressure,
    });
    this.linkState = 'authenticating';
    this.auth.start();
    for (const bytes of this.early.splice(0)) this.onAuthBytes(bytes);
  }

  private onData(data: unknown): void {
    if (this.linkState === 'closed') return;
    // simple-peer hands a Buffer, a Uint8Array in Node and in its browser bundle alike.
    if (!(data instanceof Uint8Array)) {
      this.options.traffic.refused++;
      return;
    }
    if (isAuthFrame(data)) {
      if (this.linkState === 'up') {
        this.options.traffic.refused++; // the handshake is over; a stray frame is only noise
      } else if (this.linkState === 'authenticating') {
        this.onAuthBytes(data);
      } else if (this.early.length < MAX_EARLY_FRAMES) {
        this.early.push(data);
      } else {
        this.close('protocol');
      }
      return;
    }
    const { traffic, events } = this.options;
    traffic.bytesReceived += data.byteLength;
    if (this.linkState !== 'up') {
      // Payload before both sides checked each other: an honest peer never sends it.
      traffic.refused++;
      this.close('protocol');
      return;
    }
    const result = this.assembler.push(data);
    if (result.status === 'refused') {
      traffic.refused++;
      // The first chunk of an oversized message says so: waiting for the rest would only keep
      // the other peers waiting for a frame that can never count.
      if (result.error.code === 'ERR_CHUNK_TOO_LARGE') {
        events.refused(result.error);
        this.close('refused');
      }
      return;
    }
    if (result.status !== 'complete') return;
    traffic.messagesReceived++;
    events.message(result.bytes);
  }

  private onAuthBytes(bytes: Uint8Array): void {
    const frame = decodeAuthFrame(bytes);
    if (!frame) {
      this.options.traffic.refused++;
      this.close('protocol');
      return;
    }
    this.auth.receive(frame);
  }

  private onAuthenticated(): void {
    if (this.linkState !== 'authenticating') return;
    this.linkState = 'up';
    clearTimeout(this.timer);
    this.options.events.up();
  }
}
