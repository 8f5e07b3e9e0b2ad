// The `/swarm` WebSocket endpoint: accepts upgrades, enforces the limits (swarm-limits.ts: frame
// size, message rate, hello deadline, liveness; connections and new identities per address and
// network, admission.ts) and hands text frames to a SwarmSession. One session per public key: a
// second connection with the same key replaces the first (a reloaded tab), so a volunteer is
// never counted twice.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { SWARM_CLOSE } from '../../protocol/swarm-close.ts';
import type { RelayMessage } from '../../protocol/swarm-messages.ts';
import { rejectUpgrade } from '../http/upgrade-route.ts';
import { type ClientAddress, clientAddressOf } from '../limits/client-address.ts';
import { TokenBucket } from '../limits/token-bucket.ts';
import type { Logger } from '../logger.ts';
import { nameTaken, SwarmAdmission } from './admission.ts';
import { type SessionOptions, SwarmSession } from './session.ts';
import { DEFAULT_SWARM_LIMITS, type SwarmLimits } from './swarm-limits.ts';

export interface SwarmEndpointOptions extends Omit<SessionOptions, 'socket' | 'onAuthenticated' | 'admit'> {
  readonly limits?: Partial<SwarmLimits>;
  /** Monotonic milliseconds for the identity quotas' window (performance.now by default). */
  readonly now?: () => number;
  /** Identities the relay knew before it started (the run's credited peers) and their names. */
  readonly known?: readonly { readonly peerId: string; readonly name: string | null }[];
  /**
   * Several relays: claims `name` for `peerId` across all of them (first holder wins) and says
   * who holds it; a name held by another refuses the hello before this relay's own checks.
   */
  readonly claimName?: (peerId: string, name: string) => Promise<string>;
  /** Called when a peer authenticates (the ledger records its name). */
  readonly onPeer?: (peerId: string, name: string) => void;
}

export interface SwarmEndpoint {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  readonly connections: number;
  /** Closes `peerId`'s session as replaced: it connected again through another relay of the cluster. */
  closeSession(peerId: string): void;
  /** To every authenticated volunteer of this relay. */
  broadcast(message: RelayMessage): void;
  close(): Promise<void>;
}

export function createSwarmEndpoint(options: SwarmEndpointOptions): SwarmEndpoint {
  const limits = { ...DEFAULT_SWARM_LIMITS, ...options.limits };
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes });
  const byPeer = new Map<string, SwarmSession>();
  const alive = new WeakMap<WebSocket, boolean>();
  const log: Logger = options.log;
  const admission = new SwarmAdmission(limits, options.now ?? (() => performance.now()));
  for (const { peerId, name } of options.known ?? []) admission.remember(peerId, name);

  wss.on('connection', function onConnection(ws: WebSocket, client: ClientAddress) {
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
      admit: async (peerId, name) => {
        if (name !== null && options.claimName && (await options.claimName(peerId, name)) !== peerId)
          return nameTaken(name);
        return admission.authenticate(client, peerId, name);
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
      const client = clientAddressOf(request, limits.trustedProxyHeader);
      if (!client) {
        rejectUpgrade(socket, 400, 'the relay cannot tell where this connection comes from', () =>
          socket.destroy(),
        );
        return;
      }
      const admitted = admission.connect(client);
      if (!admitted.ok) {
        rejectUpgrade(socket, admitted.status, admitted.message, () => socket.destroy());
        return;
      }
      // Counted until the TCP socket closes: after the WebSocket closes, or a failed handshake.
      socket.once('close', admitted.release);
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, client));
    },
    get connections() {
      return wss.clients.size;
    },
    broadcast(message) {
      for (const session of byPeer.values()) session.send(message);
    },
    closeSession(peerId) {
      const session = byPeer.get(peerId);
      if (!session) return;
      byPeer.delete(peerId);
      session.replaced();
    },
    async close() {
      clearInterval(pinger);
      for (const ws of wss.clients) ws.close(1001, 'relay shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
