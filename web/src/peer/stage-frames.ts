// The frames a pipeline volunteer's peers send it: activation frames (protocol/activation-frame.ts)
// between neighbouring stages, and dense tensor frames (protocol/tensor-frame.ts) at the end of a
// step. Each header is read once, into a TaggedFrame; frames that arrive before their step's
// assignment wait in EarlyFrames, within a bound a peer cannot raise.
import { activationFrameHeader } from '../../../protocol/activation-frame.ts';
import { frameKind, frameRound, type TensorKind } from '../../../protocol/tensor-frame.ts';

/** Frames that arrive before their step's assignment are kept, up to this many. */
const MAX_EARLY_FRAMES = 256;
/** ...and up to this many bytes in all: a peer cannot make this one hold more. */
const MAX_EARLY_BYTES = 64 * 2 ** 20;

/** A peer's frame with what its header says: the attempt it belongs to and what it carries. */
export interface TaggedFrame {
  readonly from: string;
  readonly bytes: Uint8Array;
  readonly attempt: number;
  readonly activation: ReturnType<typeof activationFrameHeader>;
  readonly kind: TensorKind | null;
}

/** Reads a frame's header once; null for bytes that are none of our frames. */
export function tagFrame(from: string, bytes: Uint8Array): TaggedFrame | null {
  const activation = activationFrameHeader(bytes);
  if (activation) return { from, bytes, attempt: activation.round, activation, kind: null };
  const kind = frameKind(bytes);
  const attempt = frameRound(bytes);
  return kind && attempt !== null ? { from, bytes, attempt, activation: null, kind } : null;
}

/** Frames of an attempt not assigned yet, dropped past the bounds. */
export class EarlyFrames {
  private frames: TaggedFrame[] = [];
  private bytes = 0;

  keep(frame: TaggedFrame): void {
    if (this.frames.length >= MAX_EARLY_FRAMES || this.bytes + frame.bytes.byteLength > MAX_EARLY_BYTES)
      return;
    this.frames.push(frame);
    this.bytes += frame.bytes.byteLength;
  }

  /** Empties the buffer, returning the frames of `attempt` (the others can never count). */
  take(attempt: number): TaggedFrame[] {
    const kept = this.frames.filter((frame) => frame.attempt === attempt);
    this.frames = [];
    this.bytes = 0;
    return kept;
  }
}
