// Mutual authentication on a fresh data channel, before any payload. The signaling relay does
// not vouch for anyone's key (anyone may publish `from: <any key>`), so each side proves it
// holds the private key of the key it was reached under:
//
//   each side  → challenge(nonce)           a fresh random nonce
//   each side  → response(signature)        signs authTranscript(runId, self, other, their nonce)
//   each side  → accepted                   once the other's signature checked out
//
// A side is authenticated once it has checked the other's signature *and* heard `accepted`
// from it. Both sides then know the other has checked them, so payload sent after that point
// always finds the receiver ready (the channel is ordered), and payload arriving earlier is
// a protocol breach. Frame formats: protocol/mesh-auth-frame.ts.

import { decodeBase64url, encodeBase64url } from '../../../protocol/base64url.ts';
import { verifyEd25519 } from '../../../protocol/ed25519-verify.ts';
import {
  AUTH_NONCE_BYTES,
  type AuthFrame,
  authTranscript,
  encodeAuthFrame,
} from '../../../protocol/mesh-auth-frame.ts';
import { unreachable } from '../../../protocol/unreachable.ts';
import type { PeerIdentity } from './identity.ts';

export type AuthFailure = 'auth-failed' | 'protocol';

export interface ChannelAuthOptions {
  readonly identity: PeerIdentity;
  readonly runId: string;
  /** The key the other side claims (the one it published its signals under). */
  readonly remoteKey: string;
  /** Writes one frame to the channel, in order with everything else the link writes. */
  readonly send: (frame: Uint8Array<ArrayBuffer>) => void;
  readonly random: (bytes: number) => Uint8Array<ArrayBuffer>;
  /** Called once: authenticated, or failed and the link must go. */
  readonly done: (failure: AuthFailure | null) => void;
}

export class ChannelAuth {
  private nonce: Uint8Array | undefined;
  private challenged = false;
  private responded = false;
  private gotResponse = false;
  private verified = false;
  private accepted = false;
  private finished = false;

  constructor(private readonly options: ChannelAuthOptions) {}

  /** True once both sides have checked each other. */
  get authenticated(): boolean {
    return this.verified && this.accepted;
  }

  /** Sends our challenge; frames may be received only after this. */
  start(): void {
    if (this.nonce) return;
    this.nonce = this.options.random(AUTH_NONCE_BYTES);
    this.options.send(encodeAuthFrame({ kind: 'challenge', nonce: this.nonce as Uint8Array<ArrayBuffer> }));
  }

  /** Stops the handshake; late signatures and checks are dropped. Safe to call twice. */
  cancel(): void {
    this.finished = true;
  }

  receive(frame: AuthFrame): void {
    if (this.finished) return;
    switch (frame.kind) {
      case 'challenge':
        if (this.challenged) this.finish('protocol');
        else {
          this.challenged = true;
          this.respond(frame.nonce);
        }
        return;
      case 'response':
        if (this.gotResponse || !this.nonce) this.finish('protocol');
        else {
          this.gotResponse = true;
          this.check(frame.signature, this.nonce);
        }
        return;
      case 'accepted':
        // It cannot have checked a response we have not sent yet.
        if (this.accepted || !this.responded) this.finish('protocol');
        else {
          this.accepted = true;
          this.settle();
        }
        return;
      default: {
        unreachable(frame, 'auth frame');
      }
    }
  }

  private respond(nonce: Uint8Array): void {
    const { identity, runId, remoteKey } = this.options;
    identity.sign(authTranscript(runId, identity.publicKey, remoteKey, nonce)).then(
      (signature) => {
        if (this.finished) return;
        const bytes = decodeBase64url(signature);
        if (!bytes) return this.finish('auth-failed');
        this.responded = true;
        this.options.send(encodeAuthFrame({ kind: 'response', signature: bytes }));
      },
      // Our own key failed to sign (a revoked or unusable CryptoKey): we cannot authenticate.
      () => this.finish('auth-failed'),
    );
  }

  private check(signature: Uint8Array, nonce: Uint8Array): void {
    const { identity, runId, remoteKey } = this.options;
    const transcript = authTranscript(runId, remoteKey, identity.publicKey, nonce);
    // verifyEd25519 answers false, never throws, for malformed keys and signatures.
    verifyEd25519(remoteKey, encodeBase64url(signature), transcript).then((valid) => {
      if (this.finished) return;
      if (!valid) return this.finish('auth-failed');
      this.verified = true;
      this.options.send(encodeAuthFrame({ kind: 'accepted' }));
      this.settle();
    });
  }

  private settle(): void {
    if (this.authenticated) this.finish(null);
  }

  private finish(failure: AuthFailure | null): void {
    if (this.finished) return;
    this.finished = true;
    this.options.done(failure);
  }
}
