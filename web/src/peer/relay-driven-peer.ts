// What the round volunteer (volunteer.ts) and the pipeline volunteer (pipeline-volunteer.ts)
// share: both are driven by the relay's /swarm messages, which they handle one at a time in
// arrival order (a round's or a step's phases depend on each other), both take the relay's
// notices alike (relay-notices.ts) and at once, beside the run's messages, since a receipt
// waiting behind a round's work would be lost if the connection dropped meanwhile; both report
// what they do as events, and both leave the run once, cleanly.
import type { Receipt } from '../../../protocol/ledger-signatures.ts';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import { isNotice, type Notice, type NoticeEvent, noticeEvent } from './relay-notices.ts';
import type { SwarmClient } from './swarm-client.ts';

export interface RelayDriven<Event> {
  readonly client: SwarmClient;
  /** Where verified receipts are kept. */
  readonly store: { addReceipt(receipt: Receipt): Promise<void> };
  /** Every kind of volunteer shows the relay's notices among its own events. */
  readonly onEvent?: (event: Event | NoticeEvent) => void;
}

/** A relay message other than a notice: what each kind of volunteer handles its own way. */
export type RunMessage = Exclude<RelayMessage, Notice>;

export abstract class RelayDrivenPeer<Event> {
  protected stopped = false;
  /** Subscriptions to undo when the peer leaves. */
  protected readonly unsubscribe: (() => void)[] = [];
  private queue: Promise<void> = Promise.resolve();
  /** Notices, in their own arrival order: none waits for the run's work. */
  private notices: Promise<void> = Promise.resolve();

  constructor(private readonly driven: RelayDriven<Event>) {}

  /** One relay message; called in arrival order, never two at once. */
  protected abstract handle(message: RunMessage): Promise<void>;

  /** What a message whose handling failed leaves behind (an event, a fresh `ready`). */
  protected abstract failed(error: unknown): void;

  /** Called once by stop(), before the subscriptions are undone: abandon the work under way. */
  protected leaving(): void {}

  /**
   * Called as each message arrives, before the ones ahead of it are handled: a message that
   * voids the work under way (a round aborted) can stop it here, where waiting its turn in
   * the queue would mean waiting for that work to end.
   */
  protected interrupt(_message: RunMessage): void {}

  protected emit(event: Event | NoticeEvent): void {
    // After stop() the work still unwinding was abandoned: what it reports is no longer news.
    if (!this.stopped) this.driven.onEvent?.(event);
  }

  /** Starts handling the relay's messages. */
  protected listen(): void {
    this.unsubscribe.push(
      this.driven.client.on((message) => {
        if (isNotice(message)) {
          // Kept even when it lands as the peer stops: a receipt is the volunteer's proof of credit.
          this.notices = this.notices
            .then(() => this.notice(message))
            .catch((error: unknown) =>
              this.emit({
                type: 'status',
                text: `could not keep the relay's ${message.type}: ${error instanceof Error ? error.message : error}`,
              }),
            );
          return;
        }
        if (!this.stopped) this.interrupt(message);
        this.queue = this.queue
          .then(() => (this.stopped ? undefined : this.handle(message)))
          // Work abandoned by stop() (the connection dropped under it) failing is no news.
          .catch((error: unknown) => (this.stopped ? undefined : this.failed(error)));
      }),
    );
  }

  private async notice(message: Notice): Promise<void> {
    const { client, store } = this.driven;
    this.emit(await noticeEvent(message, client.relayKey, store));
  }

  /**
   * Resolves once the relay message being handled, if any, is done: after stop(), the work it
   * abandoned has let go of the engine, so another peer (after a reconnect) may use it.
   */
  async idle(): Promise<void> {
    await Promise.all([this.queue, this.notices]);
  }

  /** Leaves the run cleanly (pagehide, Ctrl-C): the relay stops waiting for this peer at once. */
  stop(reason = 'leaving'): void {
    if (this.stopped) return;
    this.stopped = true;
    this.leaving();
    for (const off of this.unsubscribe) off();
    this.driven.client.close(reason);
  }
}
