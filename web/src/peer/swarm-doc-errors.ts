// What SwarmDoc says when a call cannot be served, with a stable code to switch on (as
// simple-peer's `err.code`). Only our own caller's mistakes are errors: what other peers write
// into the document is skipped by the roster, never thrown.

export type SwarmDocErrorCode =
  | 'ERR_SWARM_DOC_DESTROYED' // destroy() was called; nothing more can be published or observed
  | 'ERR_SWARM_DOC_BAD_KEY' // the identity's key is not a base64url Ed25519 public key
  | 'ERR_SWARM_DOC_BAD_RUN_ID' // runId is not a RunId (protocol/ledger-entry.ts)
  | 'ERR_SWARM_DOC_SIGN' // our identity failed to sign our entry (reported as an uncaught error)
  | 'ERR_SWARM_DOC_ROOM_IN_USE' // this page already has a SwarmDoc (y-webrtc provider) for the run
  | 'ERR_SWARM_DOC_BAD_METRICS'; // the entry would not pass the roster's own check (PeerEntrySchema, its length)

export class SwarmDocError extends Error {
  constructor(
    readonly code: SwarmDocErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SwarmDocError';
  }
}
