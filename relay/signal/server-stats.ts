// A snapshot of the signal server's state, for tests, the benchmark and the metrics.
import type { SignalRefusalCode } from './refusals.ts';

export interface SignalStats {
  /** Open WebSocket connections. */
  readonly connections: number;
  /** Upgrades accepted but not yet completed (they count against maxConnections). */
  readonly pendingUpgrades: number;
  /** Topics with at least one subscriber. */
  readonly topics: number;
  /** Frames received, refused ones included. */
  readonly messagesIn: number;
  /** Frames queued to sockets. */
  readonly messagesOut: number;
  /** Publishes not passed on to the other relays of a cluster: past their address's share. */
  readonly bridgeHeldBack: number;
  /** Refusals so far, by code. */
  readonly refused: Readonly<Partial<Record<SignalRefusalCode, number>>>;
}
