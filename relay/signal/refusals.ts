// Why the relay turned a peer away, as stable codes (the close reason on the wire, the `code`
// label in metrics, the field in logs), and the RFC 6455 §7.4.1 close status for each.
import type { SignalErrorCode } from '../../protocol/signal-messages.ts';

export type SignalRefusalCode =
  | SignalErrorCode // the frame's text did not parse as a signaling message
  | 'ERR_SIGNAL_BINARY' // a binary frame: y-webrtc speaks JSON text only
  | 'ERR_SIGNAL_FRAME_TOO_LARGE' // over maxFrameBytes (ws closes it with 1009 itself)
  | 'ERR_SIGNAL_WEBSOCKET' // another WebSocket protocol error found by ws (bad UTF-8, opcode…)
  | 'ERR_SIGNAL_RATE' // more messages than the token bucket allows
  | 'ERR_SIGNAL_TOPIC_LIMIT' // subscribed to more than maxTopicsPerConnection topics
  | 'ERR_SIGNAL_SLOW_CONSUMER' // more than maxBufferedBytes queued to it: it stopped reading
  | 'ERR_SIGNAL_UNRESPONSIVE' // no pong between two pings
  | 'ERR_SIGNAL_CAPACITY' // maxConnections reached: HTTP 503 before upgrading
  | 'ERR_SIGNAL_ADDRESS_LIMIT' // maxConnectionsPerAddress reached: HTTP 429 before upgrading
  | 'ERR_SIGNAL_CLOSED' // the server is closing or closed
  | 'ERR_SIGNAL_INTERNAL'; // a bug of ours while handling its message, logged at error

/** Close status per refusal; `null` means the socket is cut without a close frame. */
export const CLOSE_STATUS: Readonly<Record<SignalRefusalCode, number | null>> = {
  ERR_SIGNAL_TOO_LARGE: 1009, // Message Too Big
  ERR_SIGNAL_JSON: 1007, // Invalid frame payload data
  ERR_SIGNAL_PROTO: 1007,
  ERR_SIGNAL_TYPE: 1007,
  ERR_SIGNAL_SHAPE: 1007,
  ERR_SIGNAL_TOPIC_LENGTH: 1007,
  ERR_SIGNAL_TOO_MANY_TOPICS: 1008, // Policy Violation
  ERR_SIGNAL_BINARY: 1003, // Unsupported Data
  ERR_SIGNAL_FRAME_TOO_LARGE: 1009,
  ERR_SIGNAL_WEBSOCKET: 1002, // Protocol Error
  ERR_SIGNAL_RATE: 1008,
  ERR_SIGNAL_TOPIC_LIMIT: 1008,
  // A slow consumer's buffer is the problem, and a dead peer reads nothing: no close frame.
  ERR_SIGNAL_SLOW_CONSUMER: null,
  ERR_SIGNAL_UNRESPONSIVE: null,
  ERR_SIGNAL_CAPACITY: null, // refused before the upgrade, with HTTP 503
  ERR_SIGNAL_ADDRESS_LIMIT: null, // refused before the upgrade, with HTTP 429
  ERR_SIGNAL_CLOSED: 1001, // Going Away
  ERR_SIGNAL_INTERNAL: 1011, // Internal Error
};

/** ws's error codes for frames it refuses itself; it has already sent the close frame. */
export function refusalForWsError(wsCode: unknown): SignalRefusalCode {
  return wsCode === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
    ? 'ERR_SIGNAL_FRAME_TOO_LARGE'
    : 'ERR_SIGNAL_WEBSOCKET';
}
