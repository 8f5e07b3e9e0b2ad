// The `/swarm` WebSocket endpoint: accepts upgrades, enforces the per-connection limits
// (frame size, message rate, hello deadline, liveness) and hands text frames to a
// SwarmSession. One session per public key: a second connection with the same key replaces
// the first (a reloaded tab), so a volunteer is never counted twice.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { SWARM_CLOSE } from '../../protocol/swarm-close.ts';
import { MAX_SWARM_FRAME_BYTES } from '../../protocol/swarm-messages.ts';
import { rejectUpgrade } from '../http/upgrade-route.ts';
import { TokenBucket } from '../limits/token-bucket.ts';
import type { Logger } from '../logger.ts';
import { type SessionOptions, SwarmSession } from './session.ts';

export interface SwarmLimits {
  /** Largest text frame; bigger ones close the connection (1009). */
  readonly maxFrameBytes: number;
  /** Average messages a second per connection, and the burst allowed. */
  readonly messagesPerSec: number;
  readonly burst: number;
  /** Time to answer the challenge. */
  readonly helloTimeoutMs: number;
  /** Ping period; a socket that missed one pong is closed. */
  readonly pingIntervalMs: number;
  readonly maxConnections: number;
}

export const DEFAULT_SWARM_LIMITS: SwarmLimits = {
  maxFrameBytes: MAX_SWARM_FRAME_BYTES,
  messagesPerSec: 20, // a round needs a handful; 20/s leaves room for reconnect bursts
  burst: 40,
  helloTimeoutMs: 10_000,
  pingIntervalMs: 30_000,
  maxConnections: 10_000,
};

export interface SwarmEndpointOptions extends Omit<SessionOptions, 'socket' | 'onAuthenticated'> {
  readonly limits?: Partial<SwarmLimits>;
  /** Called when a peer authenticates (the ledger records its name). */
  readonly onPeer?: (peerId: string, name: string) => void;
}

export interface SwarmEndpoint {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  readonly connections: number;
  close(): Promise<void>;
}

export function createSwarmEndpoint(options: SwarmEndpointOptions): SwarmEndpoint {
  const limits = { ...DEFAULT_SWARM_LIMITS, ...options.limits };
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes });
  const byPeer = new Map<string, SwarmSession>();
  const alive = new WeakMap<WebSocket, boolean>();
  const log: Logger = options.log;

  wss.on('connection', function onConnection(ws: WebSocket) {
    alive.set(ws, true);
    const bucket = new TokenBucket(limits.messagesPerSec, limits.burst, () => performance.now());
    const session: SwarmSession = new SwarmSession({
      ...options,
      socket: {
        send: (text) => {
          if (ws.readyState === ws.OPEN) ws.send(text);
        },
        close: (code, reason) => ws.close(code, reason),
      },
      onAuthenticated: (peerId, name) => {
        const previous = byPeer.get(peerId);
        if (previous && previous !== session) {
          previous.ended();
          previous.replaced();
        }
        byPeer.set(peerId, session);
        options.onPeer?.(peerId, name);
      },
    });
    const helloTimer = setTimeout(() => {
      if (!session.peerId) ws.close(SWARM_CLOSE.unauthenticated, 'no hello in time');
    }, limits.helloTimeoutMs);
    ws.on('pong', () => alive.set(ws, true));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(SWARM_CLOSE.policy, 'binary frames are not part of /swarm');
      if (!bucket.take()) return ws.close(SWARM_CLOSE.policy, 'rate limit');
      session.receive(data.toString());
    });
    ws.on('error', (error) => log.debug({ err: error }, 'swarm socket error'));
    ws.on('close', () => {
      clearTimeout(helloTimer);
      session.ended();
      if (session.peerId && byPeer.get(session.peerId) === session) byPeer.delete(session.peerId);
    });
    session.start();
  });

  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.get(ws)) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, limits.pingIntervalMs);
  pinger.unref();

  return {
    handleUpgrade(request, socket, head) {
      if (wss.clients.size >= limits.maxConnections) {
        rejectUpgrade(socket, 503, 'the relay has all the volunteers it can hold', () => socket.destroy());
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
    },
    get connections() {
      return wss.clients.size;
    },
    async close() {
      clearInterval(pinger);
      for (const ws of wss.clients) ws.close(1001, 'relay shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
