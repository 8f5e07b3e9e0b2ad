// A volunteer's connection to the relay's `/swarm` endpoint: answers the Ed25519 challenge
// with the identity's proof-of-work stamp for the run (kept-stamp.ts), then sends typed, signed messages and hands the relay's messages to a listener. The same
// code runs in the browser (the page's WebSocket) and in Node (the `ws` package), so the
// socket comes in as a factory. Relay frames are validated like any other input.

import type * as v from 'valibot';
import {
  type Capabilities,
  type IceServer,
  type PeerMessage,
  parseRelayMessage,
  type RelayMessage,
  type StageNorm,
} from '../../../protocol/swarm-messages.ts';
import {
  frameClaimMessage,
  helloMessage,
  type ManifestFields,
  manifestMessage,
  modelHashMessage,
  type StageReportFields,
  stageReportMessage,
} from '../../../protocol/swarm-signing.ts';
import type { PeerIdentity } from './identity.ts';
import type { StampSource } from './kept-stamp.ts';

/** The adapter as the relay is told it (shown on the leaderboard, never trusted). */
export function adapterReport(a: {
  readonly vendor: string;
  readonly architecture: string;
  readonly description: string;
  readonly isSoftware: boolean;
}): v.InferOutput<typeof Capabilities>['adapter'] {
  return {
    vendor: a.vendor,
    architecture: a.architecture,
    description: a.description,
    isSoftware: a.isSoftware,
  };
}

/** The part of a WebSocket the client uses: the browser's and `ws`'s both fit. */
export interface SwarmSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SwarmSocket;

export interface SwarmClientOptions {
  /** ws:// or wss:// URL of the relay's /swarm endpoint. */
  readonly url: string;
  readonly identity: PeerIdentity;
  /** The identity's stamp for the challenge's run and difficulty; kept, so a reconnect pays nothing. */
  readonly stamps: StampSource;
  readonly name: string;
  readonly platform: 'browser' | 'node';
  readonly socket: SocketFactory;
  /** How long to wait for the welcome. */
  readonly timeoutMs?: number;
}

export class SwarmClientError extends Error {
  constructor(
    readonly code: 'ERR_SWARM_CONNECT' | 'ERR_SWARM_REFUSED' | 'ERR_SWARM_CLOSED' | 'ERR_SWARM_BAD_RELAY',
    message: string,
    /** With ERR_SWARM_REFUSED: the relay's own code (ERR_SWARM_SIGNATURE, ERR_SWARM_NAME_TAKEN, …). */
    readonly refusal?: string,
  ) {
    super(message);
    this.name = 'SwarmClientError';
  }
}

type Listener = (message: RelayMessage) => void;

export class SwarmClient {
  private readonly listeners = new Set<Listener>();
  private isClosed = false;
  /** Resolves when the socket closes, with the relay's code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    private readonly socket: SwarmSocket,
    private readonly identity: PeerIdentity,
    readonly runId: string,
    readonly relayKey: string,
    readonly configHash: string,
    readonly iceServers: IceServer[],
    /**
     * The public base URLs of the run's live relays as the welcome named them, this relay's
     * first (protocol/relay-url.ts checked each); empty when the relay named none.
     */
    readonly relays: readonly string[],
    closed: Promise<{ code: number; reason: string }>,
  ) {
    this.closed = closed;
  }

  get peerId(): string {
    return this.identity.publicKey;
  }

  static connect(options: SwarmClientOptions): Promise<SwarmClient> {
    const { identity } = options;
    return new Promise((resolve, reject) => {
      const socket = options.socket(options.url);
      let client: SwarmClient | null = null;
      let challenge: Extract<RelayMessage, { type: 'challenge' }> | null = null;
      let settleClosed: (value: { code: number; reason: string }) => void = () => {};
      const closed = new Promise<{ code: number; reason: string }>((r) => {
        settleClosed = r;
      });
      const timer = setTimeout(() => {
        socket.close(1000, 'timeout');
        reject(new SwarmClientError('ERR_SWARM_CONNECT', `no welcome from ${options.url} in time`));
      }, options.timeoutMs ?? 15_000);
      socket.onerror = () => {};
      socket.onclose = (event) => {
        clearTimeout(timer);
        settleClosed({ code: event.code, reason: event.reason });
        if (client) client.isClosed = true;
        else
          reject(
            new SwarmClientError(
              'ERR_SWARM_CLOSED',
              `relay closed the connection: ${event.code} ${event.reason}`,
            ),
          );
      };
      socket.onmessage = (event) => {
        const parsed = typeof event.data === 'string' ? parseRelayMessage(event.data) : null;
        if (!parsed?.ok) {
          // Before the welcome, say why (a hostile list of relays, say); the close's reject is then a no-op.
          if (!client) {
            clearTimeout(timer);
            const why = parsed ? `${parsed.error.code}: ${parsed.error.message}` : 'a binary frame';
            reject(
              new SwarmClientError(
                'ERR_SWARM_BAD_RELAY',
                `the relay sent a frame this volunteer refuses (${why})`,
              ),
            );
          }
          socket.close(1008, 'bad relay frame');
          return;
        }
        const message = parsed.value;
        if (client) {
          for (const listener of client.listeners) listener(message);
          return;
        }
        if (message.type === 'challenge') {
          challenge = message;
          Promise.all([
            identity.sign(helloMessage(message.runId, message.nonce)),
            options.stamps(message.runId, message.stampBits),
          ]).then(
            ([signature, stamp]) =>
              send(socket, {
                type: 'hello',
                publicKey: identity.publicKey,
                signature,
                stamp,
                name: options.name,
                platform: options.platform,
              }),
            (error: unknown) => {
              clearTimeout(timer);
              socket.close(1000, 'no hello');
              reject(
                new SwarmClientError(
                  'ERR_SWARM_CONNECT',
                  `could not answer the challenge: ${error instanceof Error ? error.message : error}`,
                ),
              );
            },
          );
        } else if (message.type === 'welcome' && challenge) {
          clearTimeout(timer);
          client = new SwarmClient(
            socket,
            identity,
            challenge.runId,
            challenge.relayKey,
            message.configHash,
            challenge.iceServers,
            message.relays ?? [],
            closed,
          );
          resolve(client);
        } else if (message.type === 'error') {
          clearTimeout(timer);
          reject(
            new SwarmClientError('ERR_SWARM_REFUSED', `${message.code}: ${message.message}`, message.code),
          );
        }
      };
    });
  }

  /** Calls `listener` with every relay message after the welcome. Returns an unsubscribe. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  capabilities(report: Omit<v.InferOutput<typeof Capabilities>, 'type'>): void {
    this.send({ type: 'capabilities', ...report });
  }

  ready(round: number, modelHash: string | null): void {
    this.send({ type: 'ready', round, modelHash });
  }

  async manifest(fields: ManifestFields): Promise<void> {
    const signature = await this.identity.sign(manifestMessage(this.runId, fields));
    this.send({ type: 'manifest', ...fields, holds: [...fields.holds], signature });
  }

  /** This peer's signed claim that its frame for `round` (opened with `seed`) hashes to `frameHash`. */
  frameClaim(round: number, seed: number, frameHash: string): Promise<string> {
    return this.identity.sign(frameClaimMessage(this.runId, round, seed, frameHash));
  }

  async modelHash(round: number, hash: string): Promise<void> {
    const signature = await this.identity.sign(modelHashMessage(this.runId, round, hash));
    this.send({ type: 'model-hash', round, hash, signature });
  }

  /** Pipeline runs: the squared norm of the gradient this peer's stage is about to step on. */
  stageNorm(fields: Omit<v.InferOutput<typeof StageNorm>, 'type'>): void {
    this.send({ type: 'stage-norm', ...fields });
  }

  /** Pipeline runs: this peer's stage finished the step with these weights. */
  async stageReport(fields: StageReportFields): Promise<void> {
    const signature = await this.identity.sign(stageReportMessage(this.runId, fields));
    this.send({ type: 'stage-report', ...fields, signature });
  }

  /** Leaves cleanly: the relay stops counting on this peer at once. Safe to call twice. */
  close(reason = 'leaving'): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.send({ type: 'leave', reason });
    this.socket.close(1000, reason);
  }

  private send(message: PeerMessage): void {
    if (this.isClosed && message.type !== 'leave')
      throw new SwarmClientError('ERR_SWARM_CLOSED', 'the connection is closed');
    send(this.socket, message);
  }
}

function send(socket: SwarmSocket, message: PeerMessage): void {
  socket.send(JSON.stringify(message));
}
