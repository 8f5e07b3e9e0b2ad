// A client for the relay's `/signal` endpoint, the y-webrtc signaling protocol
// (protocol/signal-messages.ts): subscribe to topics, publish to topics, hear what others
// publish. It keeps its subscriptions across reconnects and queues publishes while the
// socket is down. The socket comes from a factory: the page's `WebSocket` in the
// browser, the `ws` package in Node.
import { type PublishMessage, parseSignalMessage } from '../../../protocol/signal-messages.ts';
import { Backoff, RECONNECT_INITIAL_MS, RECONNECT_MAX_MS } from './reconnect-backoff.ts';

/** What PeerMesh needs from signaling; SignalClient is the real one, tests may pass their own. */
export interface SignalChannel {
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** Sends `{ ...payload, type: 'publish', topic }`; the relay echoes it to the sender too. */
  publish(topic: string, payload: Record<string, unknown>): void;
  /** Calls `handler` with each well-formed publish received. Returns an unsubscribe function. */
  onPublish(handler: (message: PublishMessage) => void): () => void;
}

/**
 * The part of a WebSocket this client uses. The handler properties take `never` so that the
 * DOM's WebSocket and `ws`'s both fit without a cast (their event types differ); the handlers
 * assigned below only read what both pass: `data` on messages, nothing on the others.
 */
export interface SignalSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

export type SignalSocketFactory = (url: string) => SignalSocket;

export interface SignalClientOptions {
  /**
   * ws:// or wss:// URL of the relay's /signal endpoint, or what gives the one to use at each
   * (re)connect: a run's relays fail over (relay-rotation.ts), and a dead one answers nothing.
   */
  readonly url: string | (() => string);
  readonly socket: SignalSocketFactory;
  /** How often to ping; a socket silent for two intervals is replaced. */
  readonly pingIntervalMs?: number;
  /** First wait before reconnecting; doubles per failure up to maxReconnectDelayMs, ±50% jitter. */
  readonly reconnectDelayMs?: number;
  readonly maxReconnectDelayMs?: number;
  /** Uniform in [0, 1), for the jitter. */
  readonly random?: () => number;
  /** Publishes held while disconnected; beyond it the oldest are dropped (counted in `dropped`). */
  readonly maxQueued?: number;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
}

/**
 * The relay pings every 30 s and drops a socket that misses one (relay/signal/options.ts);
 * lib0's client likewise gives up on a silent socket after 30 s. We ping more often than that.
 */
export const SIGNAL_PING_INTERVAL_MS = 20_000;
/** A mesh of 32 peers joining at once sends an offer and a few candidates each. */
export const SIGNAL_MAX_QUEUED = 512;
/** Topics per subscribe frame; the relay refuses more (DEFAULT_SIGNAL_LIMITS.maxTopicsPerMessage). */
const TOPICS_PER_FRAME = 64;
/** WebSocket.OPEN, the same number in the DOM and in `ws`. */
const SOCKET_OPEN = 1;

const PING = JSON.stringify({ type: 'ping' });
/** Longest pong we look at; the relay's is `{"type":"pong"}`. */
const MAX_PONG_LENGTH = 64;

type Timer = ReturnType<typeof setTimeout>;

/** Whether `text` is the relay's answer to a ping (not one of the four client messages). */
function isPong(text: string): boolean {
  if (text.length > MAX_PONG_LENGTH) return false;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'pong';
  } catch {
    return false; // not JSON: ignored like any malformed frame
  }
}

/** Opens its socket at once and keeps it open until close() (whose timers keep Node alive). */
export class SignalClient implements SignalChannel {
  /** Publishes dropped because the queue was full while disconnected. */
  dropped = 0;
  private socket: SignalSocket | undefined;
  private readonly topics = new Set<string>();
  private readonly queue: string[] = [];
  private readonly handlers = new Set<(message: PublishMessage) => void>();
  /** Waiting for the relay to have our subscriptions on the current or next socket. */
  private readyWaiters: (() => void)[] = [];
  /** One per ping in flight on the current socket, oldest first (keepalive pings hold a no-op). */
  private pongWaiters: (() => void)[] = [];
  private isReady = false;
  private readonly options: Required<SignalClientOptions>;
  private pingTimer: Timer | undefined;
  private reconnectTimer: Timer | undefined;
  private readonly backoff: Backoff;
  private lastHeard = 0;
  private closed = false;

  constructor(options: SignalClientOptions) {
    const url = new URL(typeof options.url === 'string' ? options.url : options.url());
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
      throw new RangeError(`a signaling URL is ws:// or wss://, not ${url.protocol}`);
    this.options = {
      url: options.url,
      socket: options.socket,
      pingIntervalMs: options.pingIntervalMs ?? SIGNAL_PING_INTERVAL_MS,
      reconnectDelayMs: options.reconnectDelayMs ?? RECONNECT_INITIAL_MS,
      maxReconnectDelayMs: options.maxReconnectDelayMs ?? RECONNECT_MAX_MS,
      maxQueued: options.maxQueued ?? SIGNAL_MAX_QUEUED,
      now: options.now ?? (() => performance.now()),
      random: options.random ?? Math.random,
    };
    this.backoff = new Backoff({
      initialMs: this.options.reconnectDelayMs,
      maxMs: this.options.maxReconnectDelayMs,
      random: this.options.random,
    });
    this.pingTimer = setInterval(() => this.keepAlive(), this.options.pingIntervalMs);
    this.open();
  }

  get connected(): boolean {
    return this.socket?.readyState === SOCKET_OPEN;
  }

  /**
   * Resolves once the relay has our subscriptions: a ping sent after them was answered (the
   * relay handles one connection's frames in order). Before that, a publish from another
   * connection may reach the topic ahead of our subscribe and miss us. Never rejects; after
   * close() it resolves with `connected` false.
   */
  ready(): Promise<void> {
    if (this.closed || (this.isReady && this.connected)) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Resolves once the relay has handled everything sent so far (subscribe included). */
  sync(): Promise<void> {
    if (this.closed || !this.isReady || !this.connected) return this.ready();
    return new Promise((resolve) => {
      this.pongWaiters.push(resolve);
      this.write(PING);
    });
  }

  subscribe(topic: string): void {
    if (this.closed || this.topics.has(topic)) return;
    this.topics.add(topic);
    if (this.connected) this.write(JSON.stringify({ type: 'subscribe', topics: [topic] }));
  }

  unsubscribe(topic: string): void {
    if (!this.topics.delete(topic)) return;
    if (this.connected) this.write(JSON.stringify({ type: 'unsubscribe', topics: [topic] }));
  }

  publish(topic: string, payload: Record<string, unknown>): void {
    if (this.closed) return;
    const text = JSON.stringify({ ...payload, type: 'publish', topic });
    if (this.connected) {
      this.write(text);
      return;
    }
    this.queue.push(text);
    if (this.queue.length > this.options.maxQueued) {
      this.queue.shift();
      this.dropped++;
    }
  }

  onPublish(handler: (message: PublishMessage) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Closes the socket for good. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.reconnectTimer);
    this.queue.length = 0;
    this.handlers.clear();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      socket.close(1000, 'closed');
    }
    // Whoever waits is told by `connected` staying false.
    this.settleAll();
  }

  private open(): void {
    let socket: SignalSocket;
    try {
      const { url } = this.options;
      socket = this.options.socket(typeof url === 'string' ? url : url());
    } catch {
      // The first URL was checked in the constructor, later ones are a welcome's (relay-url.ts);
      // what is left is the environment refusing now.
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onerror = () => {
      // Always followed by close, which reconnects.
    };
    socket.onopen = () => this.onOpen(socket);
    socket.onmessage = (event: { data?: unknown }) => this.onMessage(event.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.dropSocket();
      this.scheduleReconnect();
    };
  }

  private onOpen(socket: SignalSocket): void {
    if (this.socket !== socket) return;
    this.backoff.reset();
    this.lastHeard = this.options.now();
    const topics = [...this.topics];
    for (let i = 0; i < topics.length; i += TOPICS_PER_FRAME)
      this.write(JSON.stringify({ type: 'subscribe', topics: topics.slice(i, i + TOPICS_PER_FRAME) }));
    for (const text of this.queue.splice(0)) this.write(text);
    this.pongWaiters.push(() => {
      this.isReady = true;
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const resolve of waiters) resolve();
    });
    this.write(PING);
  }

  /** Forgets the current socket; whoever waited on it waits for the next one to be ready. */
  private dropSocket(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.isReady = false;
    this.readyWaiters.push(...this.pongWaiters);
    this.pongWaiters = [];
    if (socket) socket.onopen = socket.onmessage = socket.onclose = null;
  }

  private settleAll(): void {
    const waiters = [...this.readyWaiters, ...this.pongWaiters];
    this.readyWaiters = [];
    this.pongWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private onMessage(data: unknown): void {
    this.lastHeard = this.options.now();
    // Text frames only; anything malformed is just a sign of life.
    if (typeof data !== 'string') return;
    if (isPong(data)) {
      this.pongWaiters.shift()?.();
      return;
    }
    const parsed = parseSignalMessage(data);
    if (!parsed.ok || parsed.value.type !== 'publish') return;
    for (const handler of this.handlers) handler(parsed.value);
  }

  private write(text: string): void {
    try {
      this.socket?.send(text);
    } catch {
      // The socket closed between the readyState check and here; onclose reconnects and
      // subscribes again. A publish lost this way is retried by the mesh's connect timeout.
    }
  }

  private keepAlive(): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== SOCKET_OPEN) return;
    if (this.options.now() - this.lastHeard > 2 * this.options.pingIntervalMs) {
      // Silent for two intervals: the path is dead even if the socket has not noticed.
      this.dropSocket();
      socket.close(4000, 'silent');
      this.scheduleReconnect();
      return;
    }
    this.pongWaiters.push(() => {});
    this.write(PING);
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.open(), this.backoff.next());
  }
}
