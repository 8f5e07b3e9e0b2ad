// What PeerMesh says when a call cannot be served, with a stable code to switch on (as
// simple-peer's `err.code`), and why a peer went down. Peers' bad input is never an error
// here: it is refused and counted (traffic.refused) or costs that peer its link.

export type MeshErrorCode =
  | 'ERR_MESH_DESTROYED' // the mesh was destroyed; nothing more can be sent or awaited
  | 'ERR_MESH_NO_PEER' // no authenticated link to that key right now
  | 'ERR_MESH_PEER_CLOSED' // the link went down while the message was being written
  | 'ERR_MESH_TOO_LARGE' // the message exceeds limits.maxMessageBytes
  | 'ERR_MESH_TOO_MANY_PEERS' // connect() would want more than limits.maxPeers peers
  | 'ERR_MESH_BAD_KEY' // not a base64url Ed25519 public key, or our own key
  | 'ERR_MESH_TIMEOUT'; // waitForPeers() ran out of time

export class MeshError extends Error {
  constructor(
    readonly code: MeshErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MeshError';
  }
}

/** Why a link ended; given to onPeerDown handlers and kept for the link's last attempt. */
export type PeerDownReason =
  | 'closed' // the data channel or connection closed (the other side left or dropped)
  | 'error' // WebRTC reported an error (simple-peer's ERR_* codes)
  | 'auth-failed' // the other side could not sign for the key it claimed
  | 'protocol' // it broke the handshake: payload before authentication, bad or repeated frames
  | 'refused' // it announced a message above limits.maxMessageBytes (onPeerRefused says which)
  | 'timeout' // not connected and authenticated within limits.connectTimeoutMs
  | 'replaced' // a newer attempt for the same key took its place
  | 'disconnected' // we called disconnect()
  | 'destroyed'; // we destroyed the mesh
