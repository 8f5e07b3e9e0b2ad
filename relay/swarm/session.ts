// One volunteer's connection to `/swarm`, from the relay's side: the Ed25519 challenge, then
// typed messages handed to the run's coordinator (swarm-coordinator.ts). Every frame is parsed against the
// protocol's schemas and every credit-earning message's signature is checked before the
// coordinator sees it. Bad input ends this connection only, with a reason; nothing here
// throws out to the socket's event handlers.
import { encodeBase64url } from '../../protocol/base64url.ts';
import { verifyEd25519 } from '../../protocol/ed25519-verify.ts';
import { checkStamp } from '../../protocol/identity-stamp.ts';
import { welcomeRelays } from '../../protocol/relay-url.ts';
import { SWARM_CLOSE } from '../../protocol/swarm-close.ts';
import {
  type IceServer,
  type PeerMessage,
  parsePeerMessage,
  type RelayMessage,
} from '../../protocol/swarm-messages.ts';
import {
  helloMessage,
  manifestMessage,
  modelHashMessage,
  stageReportMessage,
} from '../../protocol/swarm-signing.ts';
import type { Logger } from '../logger.ts';
import type { SwarmCoordinator } from './swarm-coordinator.ts';

/** What a session needs of its socket. */
export interface SessionSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export interface SessionOptions {
  readonly socket: SessionSocket;
  /** DiLoCo rounds, or the steps of a pipeline-parallel run (run config `pipeline`). */
  readonly coordinator: SwarmCoordinator;
  readonly runId: string;
  readonly configHash: string;
  readonly relayKey: string;
  readonly iceServers: () => IceServer[];
  /** Zero bits every hello's identity stamp must reach (run config identity.stampBits). */
  readonly stampBits: number;
  /**
   * The public base URLs of the run's live relays, this one's first, told in the welcome so the
   * peer can fail over when this relay dies (protocol/relay-url.ts). Absent: the welcome names none.
   */
  readonly relayUrls?: () => readonly string[];
  readonly log: Logger;
  /** Random bytes for the challenge (crypto.getRandomValues in production). */
  readonly randomBytes: (n: number) => Uint8Array;
  /**
   * The peer proved its key and stamp, asking for `name` (null: none given): a refusal (the
   * name is taken, too many new identities from its address), or null to let it in.
   */
  readonly admit: (
    peerId: string,
    name: string | null,
  ) => { code: string; message: string } | null | Promise<{ code: string; message: string } | null>;
  /** Called once the peer is admitted. */
  readonly onAuthenticated: (peerId: string, name: string, session: SwarmSession) => void;
}

export class SwarmSession {
  /** The peer's public key once it answered the challenge. */
  peerId: string | null = null;
  private nonce = '';
  private closed = false;
  /** Signature checks are async: frames are handled one after another, in arrival order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: SessionOptions) {}

  start(): void {
    this.nonce = encodeBase64url(this.options.randomBytes(32));
    this.send({
      type: 'challenge',
      nonce: this.nonce,
      runId: this.options.runId,
      relayKey: this.options.relayKey,
      iceServers: this.options.iceServers(),
      stampBits: this.options.stampBits,
    });
  }

  /** One text frame from the peer. */
  receive(text: string): void {
    if (this.closed) return;
    const parsed = parsePeerMessage(text);
    if (!parsed.ok) {
      this.refuse(parsed.error.code, parsed.error.message);
      return;
    }
    this.queue = this.queue
      .then(() => this.handle(parsed.value))
      .catch((error: unknown) => {
        this.options.log.error({ err: error, peer: this.peerId }, 'swarm message handler failed');
        this.refuse('ERR_SWARM_INTERNAL', 'the relay could not handle that message');
      });
  }

  /** The socket closed (either side): the coordinator stops waiting for this peer. */
  ended(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.peerId) this.options.coordinator.leave(this.peerId);
  }

  /** Another connection authenticated with the same key: this one steps aside quietly. */
  replaced(): void {
    this.closed = true;
    this.options.socket.close(SWARM_CLOSE.replaced, 'the same key connected again');
  }

  send(message: RelayMessage): void {
    if (!this.closed) this.options.socket.send(JSON.stringify(message));
  }

  private async handle(message: PeerMessage): Promise<void> {
    if (this.closed) return;
    const { coordinator, runId } = this.options;
    if (message.type === 'hello') return this.hello(message);
    const peer = this.peerId;
    if (!peer) return this.refuse('ERR_SWARM_UNAUTHENTICATED', `${message.type} before hello`);
    // Rounds and pipeline steps have their own credit-earning messages; the other kind's is refused.
    const pipeline = coordinator.kind === 'pipeline';
    const roundsOnly = message.type === 'manifest' || message.type === 'model-hash';
    const pipelineOnly = message.type === 'stage-norm' || message.type === 'stage-report';
    if (roundsOnly ? pipeline : pipelineOnly && !pipeline)
      return this.refuse(
        'ERR_SWARM_UNSUPPORTED',
        pipeline ? `this run is pipeline parallel: no ${message.type}` : 'this run has no pipeline stages',
      );
    switch (message.type) {
      case 'capabilities':
        coordinator.capabilities(peer, message);
        return;
      case 'ready':
        coordinator.ready(peer, message.round, message.modelHash);
        return;
      case 'manifest':
        if (await this.signed(message, manifestMessage(runId, message))) coordinator.manifest(peer, message);
        return;
      case 'model-hash':
        if (await this.signed(message, modelHashMessage(runId, message.round, message.hash)))
          coordinator.modelHash(peer, message.round, message.hash);
        return;
      case 'leave':
        this.ended();
        return;
      case 'stage-norm':
        coordinator.stageNorm(peer, message);
        return;
      case 'stage-report':
        if (await this.signed(message, stageReportMessage(runId, message)))
          coordinator.stageReport(peer, message);
        return;
      default: {
        const unreachable: never = message;
        return unreachable;
      }
    }
  }

  private async hello(message: Extract<PeerMessage, { type: 'hello' }>): Promise<void> {
    if (this.peerId) return this.refuse('ERR_SWARM_PROTOCOL', 'hello twice');
    // One hash: the cheapest check first, so a crowd of stampless hellos costs no signature checks.
    const stamp = checkStamp(this.options.runId, message.publicKey, message.stamp, this.options.stampBits);
    if (!stamp.ok) return this.refuse(stamp.code, stamp.message);
    const signed = helloMessage(this.options.runId, this.nonce) as Uint8Array<ArrayBuffer>;
    if (!(await verifyEd25519(message.publicKey, message.signature, signed)))
      return this.refuse('ERR_SWARM_SIGNATURE', 'the challenge signature does not verify');
    if (this.closed) return;
    const given = message.name?.trim() || null;
    const refusal = await this.options.admit(message.publicKey, given);
    if (this.closed) return;
    if (refusal) return this.refuse(refusal.code, refusal.message);
    this.peerId = message.publicKey;
    const name = given ?? message.publicKey.slice(0, 8);
    this.options.onAuthenticated(message.publicKey, name, this);
    this.options.coordinator.join({ id: message.publicKey, name, send: (m) => this.send(m) });
    const relays = this.options.relayUrls?.();
    this.send({
      type: 'welcome',
      peerId: message.publicKey,
      runId: this.options.runId,
      configHash: this.options.configHash,
      ...(relays && { relays: welcomeRelays(relays) }),
    });
  }

  /** Whether the peer signed `bytes`; a message whose signature does not verify ends the connection. */
  private async signed(message: { type: string; signature: string }, bytes: Uint8Array): Promise<boolean> {
    const peer = this.peerId as string;
    if (await verifyEd25519(peer, message.signature, bytes as Uint8Array<ArrayBuffer>)) return true;
    this.refuse('ERR_SWARM_SIGNATURE', `${message.type} signature does not verify`);
    return false;
  }

  private refuse(code: string, message: string): void {
    if (this.closed) return;
    this.options.log.warn({ peer: this.peerId, code, message }, 'swarm connection refused a frame');
    this.send({ type: 'error', code, message: message.slice(0, 500) });
    this.ended();
    this.options.socket.close(SWARM_CLOSE.policy, code);
  }
}
