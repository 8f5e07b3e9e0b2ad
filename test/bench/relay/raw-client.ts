// A bare WebSocket client for the load generator: the RFC 6455 handshake, then frames parsed in
// place and frames sent from buffers built once. A ws client spends about as much CPU per
// message as the server under test (a Receiver stream, a Buffer and an event per frame), so a
// fleet of them on one core would measure itself; this one costs little beyond the syscalls.
import { connect, type Socket } from 'node:net';

export const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;
const FIN = 0x80;
const MASKED = 0x80;
const LENGTH_MASK = 0x7f;
const OPCODE_MASK = 0x0f;
const LENGTH_16BIT = 126;
const LENGTH_64BIT = 127;
const MASK_KEY_BYTES = 4;
const MAX_7BIT_LENGTH = 125;

/** A frame's payload, in place: `data[start..end)`, valid only during the callback. */
export type FrameHandler = (opcode: number, data: Buffer, start: number, end: number) => void;

/**
 * A client frame (clients must mask, RFC 6455 §5.3) with an all-zero masking key, so the
 * payload goes out as is and one buffer serves every send. Zero is a legal key; the RFC asks
 * for unpredictable ones to protect proxies from browser scripts, which loopback has neither of.
 */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const lengthBytes = length <= MAX_7BIT_LENGTH ? 0 : 2;
  if (length > 0xffff) throw new RangeError('frames over 64 KiB are not needed here');
  const header = 2 + lengthBytes + MASK_KEY_BYTES;
  const frame = Buffer.alloc(header + length); // zero-filled: the mask key is 0
  frame[0] = FIN | opcode;
  if (lengthBytes === 0) frame[1] = MASKED | length;
  else {
    frame[1] = MASKED | LENGTH_16BIT;
    frame.writeUInt16BE(length, 2);
  }
  payload.copy(frame, header);
  return frame;
}

const EMPTY_PONG = clientFrame(OPCODE_PONG, Buffer.alloc(0));

export class RawWsClient {
  #rest: Buffer | undefined;
  #open = false;

  private constructor(
    readonly socket: Socket,
    private readonly onFrame: FrameHandler,
  ) {}

  /** Opens `ws://host:port/path`; frames other than ping/pong/close go to `onFrame`. */
  static open(host: string, port: number, path: string, onFrame: FrameHandler): Promise<RawWsClient> {
    const socket = connect({ host, port, noDelay: true });
    const client = new RawWsClient(socket, onFrame);
    return new Promise((resolve, reject) => {
      let head = '';
      const onHandshake = (chunk: Buffer) => {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.off('data', onHandshake);
        if (!head.startsWith('HTTP/1.1 101')) {
          socket.destroy();
          reject(new Error(`upgrade refused: ${head.slice(0, head.indexOf('\r\n'))}`));
          return;
        }
        client.#open = true;
        socket.on('data', (data: Buffer) => client.#onData(data));
        const extra = Buffer.from(head.slice(end + 4), 'latin1');
        if (extra.length > 0) client.#onData(extra);
        resolve(client);
      };
      socket.on('data', onHandshake);
      socket.once('error', reject);
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          // Any 16 bytes in base64; the accept header is not checked, the server is ours to test.
          `Sec-WebSocket-Key: cG90bHVjay1iZW5jaC0xMg==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  }

  get open(): boolean {
    return this.#open && !this.socket.destroyed;
  }

  /** Sends a frame from clientFrame(). */
  send(frame: Buffer): void {
    this.socket.write(frame);
  }

  destroy(): void {
    this.#open = false;
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    const data = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
    this.#rest = undefined;
    let at = 0;
    // Server frames are unmasked; the servers here never fragment a message.
    while (data.length - at >= 2) {
      const opcode = (data[at] ?? 0) & OPCODE_MASK;
      let length = (data[at + 1] ?? 0) & LENGTH_MASK;
      let header = 2;
      if (length === LENGTH_16BIT) {
        if (data.length - at < 4) break;
        length = data.readUInt16BE(at + 2);
        header = 4;
      } else if (length === LENGTH_64BIT) {
        if (data.length - at < 10) break;
        length = Number(data.readBigUInt64BE(at + 2));
        header = 10;
      }
      if (data.length - at < header + length) break;
      const start = at + header;
      at = start + length;
      if (opcode === OPCODE_PING) this.socket.write(EMPTY_PONG);
      else if (opcode === OPCODE_CLOSE) this.destroy();
      else if (opcode !== OPCODE_PONG) this.onFrame(opcode, data, start, at);
    }
    if (at < data.length) this.#rest = data.subarray(at);
  }
}
