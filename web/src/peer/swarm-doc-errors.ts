// What SwarmDoc says when a call cannot be served, with a stable code to switch on (as
// simple-peer's `err.code`). Only our own caller's mistakes are errors: what other peers write
// into the document is skipped by the roster, never thrown.

export type SwarmDocErrorCode =
  | 'ERR_SWARM_DOC_DESTROYED' // destroy() was called; nothing more can be published or observed
  | 'ERR_SWARM_DOC_BAD_KEY' // selfKey is not a base64url Ed25519 public key
  | 'ERR_SWARM_DOC_BAD_RUN_ID' // runId is empty or longer than MAX_RUN_ID_LENGTH
  | 'ERR_SWARM_DOC_ROOM_IN_USE' // this page already has a SwarmDoc (y-webrtc provider) for the run
  | 'ERR_SWARM_DOC_BAD_METRICS'; // the entry would not pass the roster's own check (PeerEntrySchema)

export class SwarmDocError extends Error {
  constructor(
    readonly code: SwarmDocErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SwarmDocError';
  }
}
