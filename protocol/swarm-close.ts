// How a `/swarm` connection ends, as both sides read it: the WebSocket close codes the relay
// uses (RFC 6455 §7.4.1; 4000-4999 are ours). A volunteer decides by them whether reconnecting
// can help (web/src/peer/reconnecting-link.ts).
export const SWARM_CLOSE = {
  /** A frame broke the protocol; the reason is the refusal's code (ERR_SWARM_*) or the limit hit. */
  policy: 1008,
  /** The same key connected again (a reloaded tab, a restarted process): this one steps aside. */
  replaced: 4001,
  /** No valid hello in time. */
  unauthenticated: 4002,
} as const;
