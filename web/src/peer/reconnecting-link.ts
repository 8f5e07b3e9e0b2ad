// A volunteer's place in its run, kept while the relay restarts or the network drops. The relay
// holds a run's live round state in memory and resumes from its last committed round, so a
// round in progress when the connection dropped is gone on both sides: the peer on that
// connection is stopped (its work abandoned), and once that work has let go of the engine a
// fresh peer starts on the next connection, restores the committed state from the store and
// asks for work. The key, the receipts and the committed state stay where they are kept.
//
// When the run has several relays (relay-rotation.ts, learnt from each welcome), a relay that
// fails is left for the next one at once, give or take a short spread, since a dead relay drops
// all its volunteers together; once every known relay has failed in a row, attempts go round the
// list with an exponential back-off with jitter (reconnect-backoff.ts). Both reset once a
// connection has stayed up a while. A refusal that another try cannot change ends the link:
// another connection took over this key, the relay refused the key or this kind of volunteer,
// or the relay now serves another run. The page and the headless volunteer both use it; what
// runs on each connection (a round volunteer, a pipeline stage) comes in as `attach`.
import { SWARM_CLOSE } from '../../../protocol/swarm-close.ts';
import { Backoff } from './reconnect-backoff.ts';
import type { RelayRotation } from './relay-rotation.ts';
import { type SwarmClient, SwarmClientError } from './swarm-client.ts';

/** What the link needs of a connection (run-link.ts's RelayLink fits). */
export interface Connection {
  readonly client: Pick<SwarmClient, 'runId' | 'configHash' | 'closed' | 'close'> & {
    /** The run's relays as the welcome named them (SwarmClient.relays). */
    readonly relays?: readonly string[];
    /** The relay's messages: a `relays` update names the run's relays anew. */
    readonly on?: SwarmClient['on'];
  };
}

/** The peer the link runs on one connection. */
export interface Attached {
  /** Abandons the work under way and leaves; closes the connection. Safe to call twice. */
  stop(reason: string): void;
  /** Resolves once the abandoned work has let go of the engine. */
  idle(): Promise<void>;
}

export type LinkStatus =
  | { readonly state: 'connected'; readonly connections: number }
  | {
      readonly state: 'reconnecting';
      /** Attempts since the last healthy connection, this one included. */
      readonly attempt: number;
      /** When the attempt starts, in ms since the epoch. */
      readonly at: number;
      readonly reason: string;
      /** The relay the attempt goes to, when the link was given the run's relays. */
      readonly relay?: string;
    }
  | { readonly state: 'stopped'; readonly reason: string; readonly final: boolean };

export interface ReconnectingLinkOptions<C extends Connection> {
  /**
   * Opens a new connection with the same identity: the /swarm handshake and the run config, on
   * `relays.current` when `relays` is given.
   */
  readonly connect: () => Promise<C>;
  /** Starts the peer on a connection. */
  readonly attach: (connection: C) => Promise<Attached>;
  readonly onStatus?: (status: LinkStatus) => void;
  readonly backoff?: Backoff;
  /**
   * The run's relays: each connection's welcome updates them, and each attempt first moves
   * `current` on to the next. Without it every attempt goes where `connect` goes.
   */
  readonly relays?: RelayRotation;
  /**
   * A connection up this long resets the back-off and the relays' failures; one that drops sooner
   * (a crash loop) does not, so a cluster of failing relays is not gone round without waiting.
   */
  readonly healthyMs?: number;
  /** Wall clock, ms since the epoch: a status shows the next attempt as a time of day. */
  readonly now?: () => number;
  /** Calls `fn` after `ms`; returns what cancels it. */
  readonly schedule?: (ms: number, fn: () => void) => () => void;
}

export const HEALTHY_CONNECTION_MS = 10_000;

/** Relay refusals (protocol/swarm-close.ts's policy reasons) that no retry changes. */
const FINAL_REFUSALS: ReadonlySet<string> = new Set([
  'ERR_SWARM_SIGNATURE', // the relay does not take this key
  'ERR_SWARM_UNSUPPORTED', // this kind of volunteer does not fit the run
  'ERR_SWARM_NAME_TAKEN', // another identity holds the name: the volunteer must choose another
  'ERR_SWARM_STAMP_MISSING', // the identity's stamp does not prove the run's work
  'ERR_SWARM_STAMP_MALFORMED',
  'ERR_SWARM_STAMP_WEAK',
]);

const realSchedule = (ms: number, fn: () => void) => {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
};

/** Why the end of a welcomed connection is final, or null when another try may work. */
function finalClose(code: number, reason: string): string | null {
  if (code === SWARM_CLOSE.replaced)
    return 'another connection with this key took over (a newer tab or process)';
  if (code === SWARM_CLOSE.policy && FINAL_REFUSALS.has(reason))
    return `the relay refused this volunteer (${reason})`;
  return null;
}

/** Why a failed attempt is final, or null when another try may work. */
function finalFailure(error: unknown): string | null {
  if (error instanceof SwarmClientError && error.refusal && FINAL_REFUSALS.has(error.refusal))
    return `the relay refused this volunteer: ${error.message}`;
  return null;
}

/** Why `next` is not the run `first` joined, or null when it is. */
function runChanged(first: Connection, next: Connection): string | null {
  if (next.client.runId !== first.client.runId)
    return `run ${first.client.runId} no longer exists on this relay (it now serves run ${next.client.runId})`;
  if (next.client.configHash !== first.client.configHash) return "the run's config changed on the relay";
  return null;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class ReconnectingLink<C extends Connection> {
  /** Resolves once the link stopped (stop(), or a final refusal), with why. */
  readonly ended: Promise<string>;
  private settle: (reason: string) => void = () => {};
  private current: C;
  private attached: Attached | null = null;
  private connections = 0;
  /** Attempts since the last healthy connection. */
  private attempts = 0;
  /** Relays that failed in a row since the last healthy connection: dropped, or not reached. */
  private relaysFailed = 0;
  /** Set by stop(). */
  private stopReason: string | null = null;
  /** Set when the relay's answer means no retry can help. */
  private refusal: string | null = null;
  /** Why the next connection is needed, when it is not the last one's close. */
  private dropReason: string | null = null;
  /** Ends the back-off wait early (stop()). */
  private wake: () => void = () => {};
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private readonly schedule: (ms: number, fn: () => void) => () => void;

  private constructor(
    private readonly first: C,
    private readonly options: ReconnectingLinkOptions<C>,
  ) {
    this.current = first;
    this.backoff = options.backoff ?? new Backoff();
    this.now = options.now ?? Date.now;
    this.schedule = options.schedule ?? realSchedule;
    this.ended = new Promise((resolve) => {
      this.settle = resolve;
    });
    this.follow(first);
  }

  /** Learns `connection`'s relays from its welcome, and again whenever the relay names them anew. */
  private follow(connection: C): void {
    const relays = this.options.relays;
    if (!relays) return;
    relays.learn(connection.client.relays ?? []);
    connection.client.on?.((message) => {
      if (message.type === 'relays' && this.current === connection) relays.learn(message.relays);
    });
  }

  /** Starts the peer on `first`, a connection already open; a failure to attach it is thrown. */
  static async start<C extends Connection>(
    first: C,
    options: ReconnectingLinkOptions<C>,
  ): Promise<ReconnectingLink<C>> {
    const link = new ReconnectingLink(first, options);
    link.connected(await options.attach(first));
    void link.keep();
    return link;
  }

  /** The connection in use, or the last one while reconnecting. */
  get connection(): C {
    return this.current;
  }

  /** Leaves for good; resolves once the work under way has let go of the engine. Safe to call twice. */
  async stop(reason = 'leaving'): Promise<void> {
    if (this.stopReason === null) {
      this.stopReason = reason;
      this.wake();
      this.attached?.stop(reason);
    }
    await this.ended;
  }

  private get ending(): boolean {
    return this.stopReason !== null || this.refusal !== null;
  }

  private connected(attached: Attached): void {
    this.attached = attached;
    this.connections++;
    this.options.onStatus?.({ state: 'connected', connections: this.connections });
  }

  /** Each connection in turn until the link ends: wait for it to drop, then reconnect. */
  private async keep(): Promise<void> {
    for (;;) {
      const attached = this.attached as Attached;
      const resetBackoff = this.schedule(this.options.healthyMs ?? HEALTHY_CONNECTION_MS, () => {
        this.backoff.reset();
        this.attempts = 0;
        this.relaysFailed = 0;
      });
      const { code, reason } = await this.current.client.closed;
      resetBackoff();
      this.relaysFailed++;
      attached.stop('the connection to the relay dropped');
      this.attached = null;
      const idle = attached.idle();
      if (!this.ending) this.refusal = finalClose(code, reason);
      const lost = this.dropReason ?? `connection lost (${code}${reason ? ` ${reason}` : ''})`;
      this.dropReason = null;
      const next = this.ending ? null : await this.reconnect(lost);
      await idle; // the next peer gets the engine only once the abandoned work has let go of it
      if (next && this.stopReason !== null) next.client.close(this.stopReason); // stop() came meanwhile
      if (!next || this.stopReason !== null) return this.end();
      await this.attachTo(next);
    }
  }

  /** Attempts until one reaches the same run: that connection, or null when the link is ending. */
  private async reconnect(why: string): Promise<C | null> {
    let reason = why;
    const { relays } = this.options;
    for (;;) {
      // A relay of the run not yet failed is tried at once; once all have, the back-off waits.
      const untried = relays !== undefined && this.relaysFailed < relays.known.length;
      const delay = untried ? this.backoff.spread() : this.backoff.next();
      const relay = relays?.advance();
      this.attempts++;
      this.options.onStatus?.({
        state: 'reconnecting',
        attempt: this.attempts,
        at: this.now() + delay,
        reason,
        ...(relay !== undefined && { relay }),
      });
      if (!(await this.wait(delay))) return null;
      let next: C;
      try {
        next = await this.options.connect();
      } catch (error) {
        this.refusal = finalFailure(error);
        if (this.ending) return null;
        this.relaysFailed++;
        reason = messageOf(error);
        continue;
      }
      this.refusal = runChanged(this.first, next);
      if (!this.ending) return next;
      next.client.close(this.refusal ?? (this.stopReason as string));
      return null;
    }
  }

  /** Starts a peer on `next`; when that fails, the connection is closed and keep() tries again. */
  private async attachTo(next: C): Promise<void> {
    this.current = next;
    this.follow(next);
    try {
      const attached = await this.options.attach(next);
      if (this.stopReason !== null) attached.stop(this.stopReason); // stop() came as it started
      this.connected(attached);
    } catch (error) {
      this.dropReason = `the volunteer could not start: ${messageOf(error)}`;
      next.client.close('could not start');
      this.attached = { stop: () => {}, idle: async () => {} }; // nothing started, nothing to abandon
    }
  }

  /** Waits `ms`; false when stop() came first. */
  private wait(ms: number): Promise<boolean> {
    if (this.ending) return Promise.resolve(false);
    return new Promise((resolve) => {
      const cancel = this.schedule(ms, () => resolve(true));
      this.wake = () => {
        cancel();
        resolve(false);
      };
    });
  }

  private end(): void {
    const reason = this.refusal ?? this.stopReason ?? 'stopped';
    this.options.onStatus?.({ state: 'stopped', reason, final: this.refusal !== null });
    this.settle(reason);
  }
}

/** What runs on one connection: the round volunteer and the pipeline volunteer both fit. */
export interface ConnectionPeer {
  start(): Promise<void>;
  stop(reason: string): void;
  idle(): Promise<void>;
}

/**
 * The usual `attach`: a fresh peer on each connection (`peerOn`, told to `onPeer` before it
 * starts), and once a stopped one is idle, `abandon` clears what its work left in the engine.
 */
export function attachPeers<C extends Connection, P extends ConnectionPeer>(
  peerOn: (connection: C) => P,
  abandon: () => Promise<void>,
  onPeer?: (peer: P) => void,
): (connection: C) => Promise<Attached> {
  return async (connection) => {
    const peer = peerOn(connection);
    onPeer?.(peer);
    await peer.start();
    return {
      stop: (reason) => peer.stop(reason),
      idle: async () => {
        await peer.idle();
        await abandon();
      },
    };
  };
}

/** A status as one line, for the page's status and the headless volunteer's log. */
export function linkStatusText(status: LinkStatus, now: number = Date.now()): string {
  switch (status.state) {
    case 'connected':
      return status.connections === 1
        ? 'connected to the relay'
        : 'reconnected to the relay: rejoining the run at its next round';
    case 'reconnecting': {
      const inSeconds = Math.max(0, Math.round((status.at - now) / 1000));
      const time = new Date(status.at).toTimeString().slice(0, 8);
      const relay = status.relay === undefined ? '' : ` at ${status.relay}`;
      return `reconnecting to the relay${relay} (${status.reason}): attempt ${status.attempt} at ${time}, in ${inSeconds} s`;
    }
    case 'stopped':
      return status.final ? `stopped for good: ${status.reason}. Not retrying.` : `stopped: ${status.reason}`;
  }
}
