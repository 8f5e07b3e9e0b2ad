// The frames the relay holds for one open round, one per member, each with its author's signed
// claim (protocol/swarm-signing.ts). The relay's copy is the contribution that counts: a peer
// that holds another frame from the same author fetches the relay's. An author that signed two
// different frames for the round (two uploads, or an upload and a frame a peer received over
// the mesh) has equivocated, and the two signatures prove it to anyone.

import { verifyEd25519 } from '../../protocol/ed25519-verify.ts';
import { decodeContribution, type FrameExpectation } from '../../protocol/round-update.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { frameClaimMessage } from '../../protocol/swarm-signing.ts';

export interface HeldFrame {
  readonly bytes: Uint8Array;
  readonly frameHash: string;
  /** The author's signature of frameClaimMessage(runId, round, seed, frameHash). */
  readonly claim: string;
  /** When the upload completed (relay clock): the end of the author's GPU time. */
  readonly arrivedAt: number;
}

/** Two signed claims of one author for one round over different frames. */
export interface EquivocationProof {
  readonly runId: string;
  readonly round: number;
  /** The opening of the round both claims name. */
  readonly seed: number;
  readonly author: string;
  readonly claims: readonly [
    { readonly frameHash: string; readonly signature: string },
    { readonly frameHash: string; readonly signature: string },
  ];
  /** Who brought the second claim: the author itself (a second upload) or a peer's manifest. */
  readonly reportedBy: string;
}

export type UploadOutcome =
  | { readonly kind: 'stored'; readonly frameHash: string }
  | { readonly kind: 'duplicate'; readonly frameHash: string }
  | { readonly kind: 'equivocation'; readonly proof: EquivocationProof }
  | {
      readonly kind: 'refused';
      readonly status: 400 | 403 | 409;
      readonly code: string;
      readonly message: string;
    };

export class RoundFrames {
  private readonly held = new Map<string, HeldFrame>();

  constructor(
    private readonly runId: string,
    private readonly expected: FrameExpectation,
    /** Bytes of a frame in the run's format: nothing larger is read. */
    readonly maxFrameBytes: number,
  ) {}

  get round(): number {
    return this.expected.round;
  }

  get(author: string): HeldFrame | undefined {
    return this.held.get(author);
  }

  /**
   * An upload from `author` (already known to be a member). Stored only when its claim verifies
   * and it decodes in the run's exact format; a second, different frame with a valid claim is
   * equivocation. `now` is read after verification, so the arrival time is the upload's end.
   */
  async upload(author: string, bytes: Uint8Array, claim: string, now: () => number): Promise<UploadOutcome> {
    if (bytes.byteLength > this.maxFrameBytes)
      return refused(
        400,
        'ERR_FRAME_TOO_LARGE',
        `${bytes.byteLength} bytes; a frame of this run is at most ${this.maxFrameBytes}`,
      );
    const frameHash = await sha256Hex(bytes);
    if (!(await this.verifyClaim(author, frameHash, claim)))
      return refused(403, 'ERR_FRAME_CLAIM', 'the frame claim does not verify against the author’s key');
    const previous = this.held.get(author);
    if (previous)
      return previous.frameHash === frameHash
        ? { kind: 'duplicate', frameHash }
        : {
            kind: 'equivocation',
            proof: this.proof(author, previous, { frameHash, signature: claim }, author),
          };
    const decoded = decodeContribution(bytes, this.expected);
    if (!decoded.ok) return refused(400, decoded.error.code, decoded.error.message);
    this.held.set(author, { bytes, frameHash, claim, arrivedAt: now() });
    return { kind: 'stored', frameHash };
  }

  /**
   * A peer says it received from `author` the frame hashing to `frameHash`, with `claim`. A
   * proof when that differs from the relay's copy and the claim verifies; otherwise null (a
   * claim that does not verify proves nothing about the author, only about the reporter).
   */
  async checkReport(
    reporter: string,
    author: string,
    frameHash: string,
    claim: string,
  ): Promise<EquivocationProof | null> {
    const own = this.held.get(author);
    if (!own || own.frameHash === frameHash) return null;
    if (!(await this.verifyClaim(author, frameHash, claim))) return null;
    return this.proof(author, own, { frameHash, signature: claim }, reporter);
  }

  private verifyClaim(author: string, frameHash: string, claim: string): Promise<boolean> {
    const { round, seed } = this.expected;
    const message = frameClaimMessage(this.runId, round, seed, frameHash) as Uint8Array<ArrayBuffer>;
    return verifyEd25519(author, claim, message);
  }

  private proof(
    author: string,
    own: HeldFrame,
    other: { frameHash: string; signature: string },
    reportedBy: string,
  ): EquivocationProof {
    return {
      runId: this.runId,
      round: this.expected.round,
      seed: this.expected.seed,
      author,
      claims: [{ frameHash: own.frameHash, signature: own.claim }, other],
      reportedBy,
    };
  }
}

function refused(status: 400 | 403, code: string, message: string): UploadOutcome {
  return { kind: 'refused', status, code, message };
}
