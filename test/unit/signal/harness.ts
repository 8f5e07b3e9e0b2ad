// A loopback HTTP server with the signal server on /signal, and a WebSocket client that
// queues what it receives, for the signal tests.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { routeUpgrades } from '../../../relay/http/upgrade-route.ts';
import {
  createSignalServer,
  type SignalServer,
  type SignalServerOptions,
} from '../../../relay/signal/index.ts';

export interface Harness {
  readonly signal: SignalServer;
  readonly url: string;
  close(): Promise<void>;
}

export async function startSignal(options: SignalServerOptions = {}): Promise<Harness> {
  const signal = createSignalServer(options);
  const http: Server = createServer((_request, response) => response.end('okay'));
  routeUpgrades(http, { '/signal': signal.handleUpgrade });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    signal,
    url: `ws://127.0.0.1:${port}/signal`,
    async close() {
      await signal.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

/** A ws client whose received messages wait in a queue until read. */
export class TestClient {
  readonly ws: WebSocket;
  readonly closed: Promise<Closed>;
  readonly #queue: unknown[] = [];
  #waiter: ((message: unknown) => void) | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    ws.on('message', (data) => {
      const message: unknown = JSON.parse(data.toString());
      const waiter = this.#waiter;
      this.#waiter = undefined;
      if (waiter) waiter(message);
      else this.#queue.push(message);
    });
  }

  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(url, options);
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message, failing after `ms`. */
  next(ms = 2_000): Promise<unknown> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message in time')), ms);
      this.#waiter = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
    });
  }

  /** A ping/pong round trip: everything sent before it has been handled by the server. */
  async sync(): Promise<void> {
    this.send({ type: 'ping' });
    const reply = await this.next();
    if ((reply as { type?: unknown }).type !== 'pong')
      throw new Error(`expected pong, got ${JSON.stringify(reply)}`);
  }

  /** Messages received and not read yet. */
  get pending(): readonly unknown[] {
    return this.#queue;
  }

  close(): void {
    this.ws.close();
  }
}

/** Everything received up to the answer to a fresh ping (which is not included). */
export async function drain(client: TestClient): Promise<unknown[]> {
  client.send({ type: 'ping' });
  const received: unknown[] = [];
  for (;;) {
    const message = await client.next();
    if ((message as { type?: unknown }).type === 'pong') return received;
    received.push(message);
  }
}
