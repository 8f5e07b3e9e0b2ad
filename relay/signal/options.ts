// Every limit of the /signal endpoint, named, with the default and the reason for it. The relay
// is a shared resource run by volunteers: each connection gets a fixed slice of it.
import type { IncomingMessage } from 'node:http';
import type { Registry } from 'prom-client';
import { DEFAULT_SIGNAL_LIMITS } from '../../protocol/signal-messages.ts';
import { type Logger, silentLogger } from '../logger.ts';

/** The relay's logger interface (pino fits as is). */
export type SignalLogger = Logger;

export interface SignalServerOptions {
  /** Every publish this relay receives, for the other relays of a cluster (relay/cluster/). */
  readonly onPublish?: (topic: string, text: string) => void;
  /** Largest frame in bytes; ws closes a bigger one with 1009 before buffering it all. */
  readonly maxFrameBytes?: number;
  /** Longest topic (room name) in UTF-16 code units. */
  readonly maxTopicLength?: number;
  /** Most topics in one subscribe or unsubscribe message. */
  readonly maxTopicsPerMessage?: number;
  /** Most topics one connection may be subscribed to at once. */
  readonly maxTopicsPerConnection?: number;
  /** Open connections plus upgrades in progress; beyond it upgrades get HTTP 503. */
  readonly maxConnections?: number;
  /** Open connections from one client address; beyond it upgrades get HTTP 429. */
  readonly maxConnectionsPerAddress?: number;
  /**
   * Bytes a second of one address's publishes passed on to the other relays of a cluster (and
   * the burst before that rate applies): the bridge's own budget is shared by the whole relay,
   * so without a share per address a few flooding hosts would keep everyone else's offers local.
   */
  readonly bridgeBytesPerSecondPerAddress?: number;
  readonly bridgeBurstBytesPerAddress?: number;
  /** Who opened an upgrade (the socket's address, or a trusted proxy header's); 'unknown' when untold. */
  readonly addressOf?: (request: IncomingMessage) => string | null;
  /** Sustained messages per second per connection (token-bucket refill rate). */
  readonly messagesPerSecond?: number;
  /** Messages a connection may send at once before the rate applies (bucket size). */
  readonly messageBurst?: number;
  /** Bytes queued to one socket before it counts as a slow consumer and is dropped. */
  readonly maxBufferedBytes?: number;
  /** How often every socket is pinged; one that has not answered by the next ping is dropped. */
  readonly pingIntervalMs?: number;
  /** How long close() waits for sockets to finish the close handshake before cutting them. */
  readonly closeTimeoutMs?: number;
  /** Structured logger; refusals log at debug (they are counted in metrics instead). */
  readonly logger?: SignalLogger;
  /** Where to register the Prometheus metrics; none are kept when absent. */
  readonly registry?: Registry;
  /** Monotonic clock in milliseconds for rate limiting; tests pass their own. */
  readonly now?: () => number;
}

export type ResolvedSignalOptions = Required<Omit<SignalServerOptions, 'registry' | 'onPublish'>> &
  Pick<SignalServerOptions, 'registry' | 'onPublish'>;

/** 64 KiB holds an SDP offer with many candidates several times over; bigger is abuse. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
/** A provider subscribes once per open room; a person rarely has more than a few open. */
export const DEFAULT_MAX_TOPICS_PER_CONNECTION = 128;
/** Sized for one relay process: each connection costs two sockets' buffers and ~2 KB of state. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** A person's tabs, or a household behind one NAT; the same share /swarm gives an address. */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 16;
/**
 * A provider joining a full room offers to ~20 peers: an SDP offer of a few KB and its
 * candidates each, about 100 KB in a second or two, which the burst covers; the rate is a
 * steady churn. 32 addresses at this rate fill a relay's 1 MB/s bridge.
 */
export const DEFAULT_BRIDGE_BYTES_PER_SECOND_PER_ADDRESS = 32 * 1024;
export const DEFAULT_BRIDGE_BURST_BYTES_PER_ADDRESS = 256 * 1024;
/**
 * A provider joining a full room (y-webrtc allows 20-34 peers) sends an announce and then an
 * offer or answer plus a few ICE candidates per peer: a few hundred messages in a second or
 * two, then almost nothing. The burst covers that join; the rate covers a steady churn.
 */
export const DEFAULT_MESSAGES_PER_SECOND = 100;
export const DEFAULT_MESSAGE_BURST = 400;
/** Sixteen full frames queued means the reader stopped reading; keep no more for it. */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * DEFAULT_MAX_FRAME_BYTES;
/** y-webrtc's own server pings every 30 s, and lib0's client reconnects after 30 s of silence. */
export const DEFAULT_PING_INTERVAL_MS = 30_000;
export const DEFAULT_CLOSE_TIMEOUT_MS = 1_000;

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0))
    throw new RangeError(`${name} must be a positive number, not ${value}`);
  return value;
}

/** Fills in the defaults and checks the numbers (a misconfiguration fails at startup). */
export function resolveSignalOptions(options: SignalServerOptions = {}): ResolvedSignalOptions {
  return {
    maxFrameBytes: positive('maxFrameBytes', options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES),
    maxTopicLength: positive(
      'maxTopicLength',
      options.maxTopicLength ?? DEFAULT_SIGNAL_LIMITS.maxTopicLength,
    ),
    maxTopicsPerMessage: positive(
      'maxTopicsPerMessage',
      options.maxTopicsPerMessage ?? DEFAULT_SIGNAL_LIMITS.maxTopicsPerMessage,
    ),
    maxTopicsPerConnection: positive(
      'maxTopicsPerConnection',
      options.maxTopicsPerConnection ?? DEFAULT_MAX_TOPICS_PER_CONNECTION,
    ),
    maxConnections: positive('maxConnections', options.maxConnections ?? DEFAULT_MAX_CONNECTIONS),
    maxConnectionsPerAddress: positive(
      'maxConnectionsPerAddress',
      options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    ),
    bridgeBytesPerSecondPerAddress: positive(
      'bridgeBytesPerSecondPerAddress',
      options.bridgeBytesPerSecondPerAddress ?? DEFAULT_BRIDGE_BYTES_PER_SECOND_PER_ADDRESS,
    ),
    bridgeBurstBytesPerAddress: positive(
      'bridgeBurstBytesPerAddress',
      options.bridgeBurstBytesPerAddress ?? DEFAULT_BRIDGE_BURST_BYTES_PER_ADDRESS,
    ),
    addressOf: options.addressOf ?? ((request) => request.socket.remoteAddress ?? null),
    messagesPerSecond: positive(
      'messagesPerSecond',
      options.messagesPerSecond ?? DEFAULT_MESSAGES_PER_SECOND,
    ),
    messageBurst: positive('messageBurst', options.messageBurst ?? DEFAULT_MESSAGE_BURST),
    maxBufferedBytes: positive('maxBufferedBytes', options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES),
    pingIntervalMs: positive('pingIntervalMs', options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS),
    closeTimeoutMs: positive('closeTimeoutMs', options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS),
    logger: options.logger ?? silentLogger,
    registry: options.registry,
    onPublish: options.onPublish,
    now: options.now ?? (() => performance.now()),
  };
}
