// Every limit of the `/swarm` endpoint, named, with its default and the reason for it. The
// per-connection ones bound what one socket costs; the per-address and per-network ones bound
// what one machine or one network can take of the relay, so ten thousand sessions from one
// process cannot fill it (docs/ARCHITECTURE.md, "Untrusted volunteers"). The README's limits
// table lists them.
import { MAX_SWARM_FRAME_BYTES } from '../../protocol/swarm-messages.ts';

export interface SwarmLimits {
  /** Largest text frame; bigger ones close the connection (1009). */
  readonly maxFrameBytes: number;
  /** Average messages a second per connection, and the burst allowed. */
  readonly messagesPerSec: number;
  readonly burst: number;
  /** Time to answer the challenge. */
  readonly helloTimeoutMs: number;
  /** Ping period; a socket that missed one pong is closed. */
  readonly pingIntervalMs: number;
  /** Open connections in all; beyond it upgrades get HTTP 503. */
  readonly maxConnections: number;
  /** Open connections from one address (authenticated or not); beyond it HTTP 429. */
  readonly maxSessionsPerAddress: number;
  /** Open connections from one /24 (IPv4) or /48 (IPv6); beyond it HTTP 429. */
  readonly maxSessionsPerPrefix: number;
  /** Identities new to the relay authenticating from one address per window; beyond it refused. */
  readonly newIdentitiesPerAddress: number;
  /** The same per /24 or /48. */
  readonly newIdentitiesPerPrefix: number;
  /** The window those two count in. */
  readonly identityWindowMs: number;
  /** Addresses and networks the identity quotas remember per window (bounded memory). */
  readonly maxTrackedAddresses: number;
  /** Identities and names the relay remembers as seen (bounded memory). */
  readonly maxKnownIdentities: number;
  /**
   * A header a reverse proxy in front of the relay writes the client's address into (e.g.
   * 'x-forwarded-for'; its last entry counts). Null: the socket's address. Set it only when the
   * relay is reachable through that proxy alone, or anyone can claim any address.
   */
  readonly trustedProxyHeader: string | null;
}

export const DEFAULT_SWARM_LIMITS: SwarmLimits = {
  maxFrameBytes: MAX_SWARM_FRAME_BYTES,
  messagesPerSec: 20, // a round needs a handful; 20/s leaves room for reconnect bursts
  burst: 40,
  helloTimeoutMs: 10_000,
  pingIntervalMs: 30_000,
  maxConnections: 10_000,
  // A household or a lab behind one NAT runs a few tabs and headless volunteers; a reloaded tab
  // briefly holds two connections until the old one is replaced.
  maxSessionsPerAddress: 16,
  maxSessionsPerPrefix: 64, // a campus or office network shares one /24 or /48
  // Counted only the first time the relay sees a key: a returning volunteer is never new.
  newIdentitiesPerAddress: 32,
  newIdentitiesPerPrefix: 128,
  identityWindowMs: 3_600_000, // an hour
  maxTrackedAddresses: 100_000, // ~100 bytes each: ~10 MB at worst
  maxKnownIdentities: 200_000, // a key and a name each: ~40 MB at worst
  trustedProxyHeader: null,
};
