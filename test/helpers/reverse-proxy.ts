// A small reverse proxy in front of a test relay, doing what the README's nginx block does:
// requests are passed on with X-Forwarded-For extended by the address the proxy saw (nginx's
// $proxy_add_x_forwarded_for), X-Forwarded-Proto and the client's Host; WebSocket upgrades are
// passed on the same way and then spliced byte for byte (nginx's `Upgrade`/`Connection`
// headers with proxy_http_version 1.1), so the relay's own 101 or refusal reaches the client.
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
} from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ReverseProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  close(): Promise<void>;
}

/** RFC 9110 §7.6.1: meaningful for one connection only, never passed on. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** `incoming`'s end-to-end headers, plus X-Forwarded-For extended by the client's address and -Proto. */
function forwardedHeaders(incoming: IncomingMessage): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming.headers as IncomingHttpHeaders))
    if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
  const claimed = incoming.headers['x-forwarded-for'];
  const remote = incoming.socket.remoteAddress ?? '';
  headers['x-forwarded-for'] = claimed ? `${claimed}, ${remote}` : remote;
  headers['x-forwarded-proto'] = 'http';
  return headers;
}

/** The request head of an upgrade, as the proxy sends it to the relay. */
function upgradeHead(incoming: IncomingMessage): string {
  const lines = [`${incoming.method} ${incoming.url} HTTP/1.1`];
  for (const [name, value] of Object.entries(forwardedHeaders(incoming)))
    for (const one of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${one}`);
  lines.push(`connection: Upgrade`, `upgrade: ${incoming.headers.upgrade}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Starts a proxy on a loopback port that passes everything to `target` (http://host:port). */
export async function startReverseProxy(target: string): Promise<ReverseProxy> {
  const upstream = new URL(target);
  const port = Number(upstream.port);
  const tunnels = new Set<Duplex>();

  const server = createServer((incoming, outgoing) => {
    const forwarded = request(
      {
        host: upstream.hostname,
        port,
        method: incoming.method,
        path: incoming.url,
        headers: forwardedHeaders(incoming),
      },
      (answer) => {
        const headers: OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(answer.headers))
          if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
        outgoing.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', () => outgoing.writeHead(502).end('bad gateway'));
    incoming.pipe(forwarded);
  });

  server.on('upgrade', (incoming: IncomingMessage, client: Duplex, head: Buffer) => {
    const relay: Socket = connect(port, upstream.hostname, () => {
      relay.write(upgradeHead(incoming));
      if (head.length > 0) relay.write(head);
      relay.pipe(client);
      client.pipe(relay);
    });
    for (const socket of [client, relay]) {
      tunnels.add(socket);
      socket.on('error', () => {
        client.destroy();
        relay.destroy();
      });
      socket.on('close', () => {
        tunnels.delete(socket);
        client.destroy();
        relay.destroy();
      });
    }
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${own}`,
    async close() {
      for (const socket of tunnels) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
