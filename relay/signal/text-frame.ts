// A complete WebSocket text frame as a server sends it (RFC 6455 §5.2: FIN, opcode 1, no mask),
// built once per publish so that every receiver gets the same bytes: ws.send would frame the
// payload again, with a fresh header and options object, for each of them.

const FIN_TEXT = 0x81;
/** Payload lengths up to 125 fit the 7-bit field; up to 2^16-1 take 2 more bytes; then 8. */
const MAX_7BIT_LENGTH = 125;
const MAX_16BIT_LENGTH = 0xffff;
const LENGTH_16BIT = 126;
const LENGTH_64BIT = 127;
const SHORT_HEADER_BYTES = 2;
const MEDIUM_HEADER_BYTES = SHORT_HEADER_BYTES + 2;
const LONG_HEADER_BYTES = SHORT_HEADER_BYTES + 8;

/** Frames a UTF-8 payload (of at most 2^53 bytes, far above any maxFrameBytes). */
export function serverTextFrame(payload: string): Buffer {
  const length = Buffer.byteLength(payload);
  const header =
    length <= MAX_7BIT_LENGTH
      ? SHORT_HEADER_BYTES
      : length <= MAX_16BIT_LENGTH
        ? MEDIUM_HEADER_BYTES
        : LONG_HEADER_BYTES;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = FIN_TEXT;
  if (header === SHORT_HEADER_BYTES) frame[1] = length;
  else if (header === MEDIUM_HEADER_BYTES) {
    frame[1] = LENGTH_16BIT;
    frame.writeUInt16BE(length, SHORT_HEADER_BYTES);
  } else {
    frame[1] = LENGTH_64BIT;
    frame.writeBigUInt64BE(BigInt(length), SHORT_HEADER_BYTES);
  }
  frame.write(payload, header, 'utf8');
  return frame;
}
