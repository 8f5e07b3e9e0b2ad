// One signaling client: its rate limit, its topics, its liveness, and what each of its
// messages does. Nothing a peer sends can throw out of these handlers: a bad frame closes
// this connection with a stable code and leaves every other one alone.

import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { SignalMessage, SignalParseResult } from '../../protocol/signal-messages.ts';
import { unreachable } from '../../protocol/unreachable.ts';
import { TokenBucket } from '../limits/token-bucket.ts';
import type { ResolvedSignalOptions } from './options.ts';
import { withClientCount } from './publish-payload.ts';
import { CLOSE_STATUS, refusalForWsError, type SignalRefusalCode } from './refusals.ts';
import { serverTextFrame } from './text-frame.ts';
import type { Subscriber, TopicRegistry } from './topic-registry.ts';
import type { Corkable, WriteBatch } from './write-batch.ts';

/** Running totals, plain numbers so the hot path costs one increment each. */
export interface SignalCounters {
  messagesIn: number;
  messagesOut: number;
  /** Publishes kept from the other relays of a cluster: past their address's share of the bridge. */
  bridgeHeldBack: number;
}

/** What a connection shares with its server. */
export interface SignalHub {
  readonly options: ResolvedSignalOptions;
  readonly registry: TopicRegistry<SignalConnection>;
  readonly parse: (text: string) => SignalParseResult;
  readonly counters: SignalCounters;
  readonly writes: WriteBatch;
  /** Counts and logs a refusal. */
  refused(code: SignalRefusalCode, detail: object): void;
  /** The connection has closed; forget it. */
  closed(connection: SignalConnection): void;
  /**
   * A publish on this relay, for the other relays of a cluster (ClusterNode.published in
   * relay/cluster/cluster-node.ts), within its sender's address's share of the bridge.
   */
  published(from: SignalConnection, topic: string, text: string): void;
}

const PONG = serverTextFrame('{"type":"pong"}');

export class SignalConnection implements Subscriber, Corkable {
  readonly topics = new Set<string>();
  /** Set by any pong or message, cleared by each liveness ping. */
  alive = true;
  /** Owned by the server's WriteBatch. */
  corked = false;
  /** False from the moment we refuse it or it closes: later frames are ignored. */
  #open = true;
  readonly #bucket: TokenBucket;

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    /** The socket ws runs on (the one handed to handleUpgrade), corked by the WriteBatch. */
    readonly socket: Duplex,
    private readonly hub: SignalHub,
    /** The client's address: its share of the per-address limits. */
    readonly address: string,
  ) {
    const { messagesPerSecond, messageBurst, now } = hub.options;
    this.#bucket = new TokenBucket(messagesPerSecond, messageBurst, now);
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    // Without an 'error' listener ws's errors (bad UTF-8, oversized frame) would crash the
    // process, which is how y-webrtc's server dies on one malformed frame.
    ws.on('error', (error: Error & { code?: unknown }) =>
      this.refuse(refusalForWsError(error.code), { error: error.message }),
    );
    ws.on('close', () => this.#onClose());
  }

  /**
   * Queues a complete frame from text-frame.ts, dropping the socket if it stopped reading.
   * Written straight to the socket, next to ws's own frames (pongs, close): ws writes each of
   * its frames whole and at once when permessage-deflate is off (server.ts turns it off), so
   * frames never interleave; after a close frame nothing more may go out, hence readyState.
   */
  send(frame: Buffer): void {
    if (!this.#open || this.ws.readyState !== this.ws.OPEN) return;
    this.hub.writes.hold(this);
    this.socket.write(frame);
    this.hub.counters.messagesOut++;
    // writableLength counts what is corked too, so a reader that stopped is caught here.
    if (this.socket.writableLength > this.hub.options.maxBufferedBytes)
      this.refuse('ERR_SIGNAL_SLOW_CONSUMER', { bufferedBytes: this.socket.writableLength });
  }

  /** Liveness: drop it if the last ping went unanswered, else ping again. */
  ping(): void {
    if (!this.#open) return;
    if (!this.alive) {
      this.refuse('ERR_SIGNAL_UNRESPONSIVE', {});
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  /** Leaves every topic and closes (or cuts) the socket. Safe to call twice. */
  refuse(code: SignalRefusalCode, detail: object): void {
    if (!this.#open) return;
    this.#open = false;
    this.hub.registry.unsubscribeAll(this);
    this.hub.refused(code, { connection: this.id, ...detail });
    const status = CLOSE_STATUS[code];
    if (status === null) this.ws.terminate();
    // ws has already answered its own protocol errors with a close frame.
    else if (this.ws.readyState === this.ws.OPEN) this.ws.close(status, code);
  }

  #onClose(): void {
    this.#open = false;
    this.hub.registry.unsubscribeAll(this);
    this.hub.closed(this);
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (!this.#open) return;
    this.alive = true;
    this.hub.counters.messagesIn++;
    if (!this.#bucket.take()) {
      this.refuse('ERR_SIGNAL_RATE', {});
      return;
    }
    // binaryType is ws's default 'nodebuffer', so a message is one Buffer.
    if (isBinary || !Buffer.isBuffer(data)) {
      this.refuse('ERR_SIGNAL_BINARY', {});
      return;
    }
    const text = data.toString();
    const parsed = this.hub.parse(text);
    if (!parsed.ok) {
      this.refuse(parsed.error.code, { reason: parsed.error.message });
      return;
    }
    try {
      this.#dispatch(parsed.value, text);
    } catch (error) {
      // Only a bug of ours gets here; it costs this connection, not the process.
      this.hub.options.logger.error({ connection: this.id, err: error }, 'signal message handler failed');
      this.refuse('ERR_SIGNAL_INTERNAL', {});
    }
  }

  #dispatch(message: SignalMessage, text: string): void {
    const { registry, options } = this.hub;
    switch (message.type) {
      case 'subscribe':
        for (const topic of message.topics) {
          if (!this.topics.has(topic) && this.topics.size >= options.maxTopicsPerConnection) {
            this.refuse('ERR_SIGNAL_TOPIC_LIMIT', { limit: options.maxTopicsPerConnection });
            return;
          }
          registry.subscribe(this, topic);
        }
        return;
      case 'unsubscribe':
        for (const topic of message.topics) registry.unsubscribe(this, topic);
        return;
      case 'publish': {
        // Like y-webrtc: every subscriber gets it, the sender too if subscribed; a topic
        // without subscribers here swallows it, after the other relays have it.
        this.hub.published(this, message.topic, text);
        const receivers = registry.subscribers(message.topic);
        if (!receivers) return;
        const frame = serverTextFrame(withClientCount(text, message, receivers.size));
        for (const receiver of receivers) receiver.send(frame);
        return;
      }
      case 'ping':
        this.send(PONG);
        return;
      default: {
        unreachable(message, 'signal message');
      }
    }
  }
}
