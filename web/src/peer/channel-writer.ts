// Writes chunks to one RTCDataChannel without overrunning it: above the high-water mark it
// waits for the queue to drain to the low-water mark before writing on. Chromium throws once
// 16 MiB are queued on a channel (DESIGN, environment facts); and a deep queue only adds
// latency to every message behind it.
import type { MeshDataChannel } from './mesh-simple-peer.ts';

export interface ChannelWriterOptions {
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  /** How often to look at bufferedAmount where the channel fires no `bufferedamountlow`. */
  readonly pollMs?: number;
  /** Called each time a write has to wait for the channel to drain. */
  readonly onWait?: () => void;
}

/** 5 ms: at loopback speed 1 MiB drains in ~30 ms, so the channel stays fed between looks. */
export const WRITER_POLL_MS = 5;
/** Where the event exists we still look now and then, in case one is missed. */
export const WRITER_SAFETY_POLL_MS = 250;

export class ChannelClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelClosedError';
  }
}

const OPEN = 'open';

export class ChannelWriter {
  private readonly hasLowEvent: boolean;
  private readonly pollMs: number;
  private closed = false;
  /** Wakes the write waiting for a drain, if any (only one writes at a time, see write()). */
  private wake: (() => void) | undefined;
  private readonly onLow = (): void => this.wake?.();

  constructor(
    private readonly channel: MeshDataChannel,
    private readonly options: ChannelWriterOptions,
  ) {
    this.hasLowEvent =
      typeof channel.bufferedAmountLowThreshold === 'number' &&
      typeof channel.addEventListener === 'function';
    if (this.hasLowEvent) {
      channel.bufferedAmountLowThreshold = options.lowWaterMark;
      // addEventListener, not onbufferedamountlow: simple-peer owns that property.
      channel.addEventListener?.('bufferedamountlow', this.onLow);
    }
    this.pollMs = options.pollMs ?? (this.hasLowEvent ? WRITER_SAFETY_POLL_MS : WRITER_POLL_MS);
  }

  /**
   * Sends one data-channel message once there is room. The caller awaits each write before the
   * next (writes are not queued here), so chunks go out in the order they were written.
   * Rejects with ChannelClosedError when the channel closes first.
   */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.channel.bufferedAmount > this.options.highWaterMark) {
      this.options.onWait?.();
      await this.drained();
    }
    if (this.closed || this.channel.readyState !== OPEN)
      throw new ChannelClosedError(`data channel is ${this.closed ? 'closed' : this.channel.readyState}`);
    try {
      this.channel.send(chunk);
    } catch (error) {
      // Chromium throws InvalidStateError when the channel closed under us, OperationError
      // when its queue is full: either way this link cannot take the message.
      throw new ChannelClosedError(error instanceof Error ? error.message : String(error));
    }
  }

  /** Stops waiting: a pending write rejects. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel.removeEventListener?.('bufferedamountlow', this.onLow);
    this.wake?.();
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (
          !this.closed &&
          this.channel.readyState === OPEN &&
          this.channel.bufferedAmount > this.options.lowWaterMark
        )
          return;
        clearInterval(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setInterval(check, this.pollMs);
      this.wake = check;
    });
  }
}
