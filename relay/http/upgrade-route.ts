// Hands a node:http server's WebSocket upgrades to handlers by path (`/signal` → the signal
// server). @hono/node-server's serve() returns such a server; Hono itself never sees upgrades.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

const REASONS = {
  400: 'Bad Request',
  404: 'Not Found',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
} as const;

/**
 * Answers an upgrade request with a plain HTTP error and closes the socket: before the
 * upgrade the client still speaks HTTP, so this is what it can read (e.g. ws's
 * 'unexpected-response'). node:http leaves upgraded sockets' errors to us; a reset is routine.
 */
export function rejectUpgrade(
  socket: Duplex,
  status: 400 | 404 | 429 | 503,
  body: string,
  onError: (error: Error) => void,
): void {
  socket.on('error', onError);
  const reason = REASONS[status];
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // Do not wait for the client to close its side.
  socket.once('finish', () => socket.destroy());
}

/** The path of a request target, without the query (never throws, unlike `new URL`). */
function pathOf(target: string | undefined): string {
  const url = target ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * Routes upgrades for the given paths; any other path gets HTTP 404 and its socket closed
 * (nothing else would answer it, and it would hang until the client gives up).
 * Returns a function that stops routing.
 */
export function routeUpgrades(server: Server, routes: Readonly<Record<string, UpgradeHandler>>): () => void {
  const table = new Map(Object.entries(routes));
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const handler = table.get(pathOf(request.url));
    if (handler) {
      handler(request, socket, head);
      return;
    }
    rejectUpgrade(socket, 404, 'no WebSocket endpoint here', () => socket.destroy());
  };
  server.on('upgrade', onUpgrade);
  return () => server.off('upgrade', onUpgrade);
}
