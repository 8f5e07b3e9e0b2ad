// The relay's /signal endpoint: a y-webrtc signaling server (same four messages, same
// `clients` count on publishes) with every limit of options.ts enforced. It owns no HTTP
// server: whoever does routes upgrades for its path to `handleUpgrade` (see upgrade-route.ts).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { createSignalParser } from '../../protocol/signal-messages.ts';
import { rejectUpgrade } from '../http/upgrade-route.ts';
import { LiveCount } from '../limits/live-count.ts';
import { TokenBucket } from '../limits/token-bucket.ts';
import { SignalConnection, type SignalCounters, type SignalHub } from './connection.ts';
import { registerSignalMetrics } from './metrics.ts';
import { resolveSignalOptions, type SignalServerOptions } from './options.ts';
import { withClientCount } from './publish-payload.ts';
import type { SignalRefusalCode } from './refusals.ts';
import type { SignalStats } from './server-stats.ts';
import { serverTextFrame } from './text-frame.ts';
import { TopicRegistry } from './topic-registry.ts';
import { WriteBatch } from './write-batch.ts';

export interface SignalServer {
  /** Takes over an HTTP upgrade (refusing it with 503 when full or closed). */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes every connection (1001), waiting up to closeTimeoutMs. Safe to call twice. */
  close(): Promise<void>;
  stats(): SignalStats;
  /** A publish another relay of the cluster received, for this relay's subscribers of its topic. */
  deliverRemote(text: string): void;
}

export function createSignalServer(options: SignalServerOptions = {}): SignalServer {
  const resolved = resolveSignalOptions(options);
  const { logger } = resolved;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: resolved.maxFrameBytes,
    // We keep our own set; ws's would be a second copy.
    clientTracking: false,
    // Off (ws's server default, said out loud): connection.ts writes prepared frames next to
    // ws's own, which needs ws to send each frame whole and at once; and a zlib context per
    // socket would cost far more memory than the few hundred bytes of SDP it saves.
    perMessageDeflate: false,
  });
  const connections = new Set<SignalConnection>();
  const refused: Partial<Record<SignalRefusalCode, number>> = {};
  const counters: SignalCounters = { messagesIn: 0, messagesOut: 0, bridgeHeldBack: 0 };
  const registry = new TopicRegistry<SignalConnection>();
  const perAddress = new LiveCount(resolved.maxConnectionsPerAddress);
  /** Each connected address's share of the cluster bridge; dropped with its last connection. */
  const bridgeShares = new Map<string, TokenBucket>();
  let pendingUpgrades = 0;
  let nextId = 1;
  let closing: Promise<void> | undefined;

  const countRefusal = (code: SignalRefusalCode, detail: object): void => {
    refused[code] = (refused[code] ?? 0) + 1;
    logger.debug({ code, ...detail }, 'signal refused');
  };
  const hub: SignalHub = {
    options: resolved,
    registry,
    // A frame of n UTF-8 bytes decodes to at most n UTF-16 units, so maxFrameBytes caps both.
    parse: createSignalParser({
      maxTextLength: resolved.maxFrameBytes,
      maxTopicLength: resolved.maxTopicLength,
      maxTopicsPerMessage: resolved.maxTopicsPerMessage,
    }),
    counters,
    writes: new WriteBatch(),
    refused: countRefusal,
    closed(connection) {
      if (!connections.delete(connection)) return;
      perAddress.remove(connection.address);
      if (!perAddress.has(connection.address)) bridgeShares.delete(connection.address);
    },
    published(from, topic, text) {
      if (!options.onPublish) return;
      let share = bridgeShares.get(from.address);
      if (!share) {
        share = new TokenBucket(
          resolved.bridgeBytesPerSecondPerAddress,
          resolved.bridgeBurstBytesPerAddress,
          resolved.now,
        );
        bridgeShares.set(from.address, share);
      }
      // Past its share the publish still reaches this relay's subscribers, not the others'.
      if (share.take(Buffer.byteLength(text) + topic.length)) options.onPublish(topic, text);
      else counters.bridgeHeldBack++;
    },
  };

  const stats = (): SignalStats => ({
    connections: connections.size,
    pendingUpgrades,
    topics: registry.size,
    messagesIn: counters.messagesIn,
    messagesOut: counters.messagesOut,
    bridgeHeldBack: counters.bridgeHeldBack,
    refused: { ...refused },
  });
  if (resolved.registry) registerSignalMetrics(resolved.registry, stats);

  // One timer for all sockets (y-webrtc's server starts one per socket).
  const liveness = setInterval(() => {
    for (const connection of connections) connection.ping();
  }, resolved.pingIntervalMs);
  liveness.unref();

  function refuseUpgrade(socket: Duplex, code: SignalRefusalCode, status: 503 | 429 = 503): void {
    countRefusal(code, {});
    rejectUpgrade(socket, status, code, (error) =>
      logger.debug({ code, err: error }, 'refused upgrade socket failed'),
    );
  }

  function handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (closing) {
      refuseUpgrade(socket, 'ERR_SIGNAL_CLOSED');
      return;
    }
    if (connections.size + pendingUpgrades >= resolved.maxConnections) {
      refuseUpgrade(socket, 'ERR_SIGNAL_CAPACITY');
      return;
    }
    const address = resolved.addressOf(request) ?? 'unknown';
    if (!perAddress.hasRoom(address)) {
      refuseUpgrade(socket, 'ERR_SIGNAL_ADDRESS_LIMIT', 429);
      return;
    }
    // Counted from the upgrade's start, so a burst of handshakes cannot pass the cap together.
    perAddress.add(address);
    pendingUpgrades++;
    let settled = false;
    // ws destroys the socket without calling back when the handshake is invalid.
    const onEarlyClose = (): void => {
      if (settled) return;
      settled = true;
      pendingUpgrades--;
      perAddress.remove(address);
    };
    socket.once('close', onEarlyClose);
    wss.handleUpgrade(request, socket, head, (ws) => {
      socket.removeListener('close', onEarlyClose);
      if (settled) return;
      settled = true;
      pendingUpgrades--;
      if (closing) {
        perAddress.remove(address);
        ws.close(1001, 'ERR_SIGNAL_CLOSED');
        return;
      }
      const connection = new SignalConnection(nextId++, ws, socket, hub, address);
      connections.add(connection);
    });
  }

  async function shutDown(): Promise<void> {
    clearInterval(liveness);
    const open = [...connections];
    const allClosed = Promise.all(
      open.map((connection) => new Promise<void>((resolve) => connection.ws.once('close', () => resolve()))),
    );
    for (const connection of open) connection.refuse('ERR_SIGNAL_CLOSED', {});
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), resolved.closeTimeoutMs);
    });
    if ((await Promise.race([allClosed, timeout])) === 'timeout') {
      logger.warn({ open: connections.size }, 'signal sockets did not close in time; cutting them');
      for (const connection of open) connection.ws.terminate();
      await allClosed;
    }
    clearTimeout(timer);
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    logger.info({}, 'signal server closed');
  }

  function deliverRemote(text: string): void {
    const parsed = hub.parse(text);
    if (!parsed.ok || parsed.value.type !== 'publish') return;
    const receivers = registry.subscribers(parsed.value.topic);
    if (!receivers) return;
    // The count is this relay's subscribers: y-webrtc reads it only as a hint.
    const frame = serverTextFrame(withClientCount(text, parsed.value, receivers.size));
    for (const receiver of receivers) receiver.send(frame);
  }

  return {
    handleUpgrade,
    deliverRemote,
    close() {
      closing ??= shutDown();
      return closing;
    },
    stats,
  };
}
