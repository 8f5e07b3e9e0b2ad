// A TCP proxy in front of a relay that loses the end of a /swarm connection, as a network path
// that died does (a laptop's lid shut, a NAT forgetting the flow): the browser's WebSocket close
// frame and its TCP close never reach the relay, which would otherwise only notice through a
// missed ping. Every other frame, and every other connection (pages, API, /signal), passes
// untouched. A tab's explicit `leave` message is then the only way the relay hears it go.
import { connect, createServer, type Server, type Socket } from 'node:net';

const HEADERS_END = '\r\n\r\n';
/** RFC 6455 §5.2: opcode in the low bits of the first byte; 0x8 is a close frame. */
const OPCODE_MASK = 0x0f;
const OPCODE_CLOSE = 0x8;
const MASKED_BIT = 0x80;
const LENGTH_MASK = 0x7f;
const MASK_KEY_BYTES = 4;
const LENGTH_16 = 126;
const LENGTH_64 = 127;

/** The whole length of the WebSocket frame at the start of `buffer`, or null if it is not all there. */
function frameLength(buffer: Buffer): number | null {
  if (buffer.length < 2) return null;
  const second = buffer[1] as number;
  const short = second & LENGTH_MASK;
  let header = 2;
  let payload = short;
  if (short === LENGTH_16) {
    header = 4;
    if (buffer.length < header) return null;
    payload = buffer.readUInt16BE(2);
  } else if (short === LENGTH_64) {
    header = 10;
    if (buffer.length < header) return null;
    payload = Number(buffer.readBigUInt64BE(2));
  }
  const total = header + (second & MASKED_BIT ? MASK_KEY_BYTES : 0) + payload;
  return buffer.length >= total ? total : null;
}

/** Forwards `client` to the relay, losing a /swarm socket's close frame and its TCP close. */
function relayConnection(client: Socket, relayPort: number): Socket {
  const upstream = connect(relayPort, '127.0.0.1');
  let head: Buffer | null = Buffer.alloc(0); // until the request's headers are through
  let swarm = false;
  let frames = Buffer.alloc(0);
  const forwardFrames = (chunk: Buffer) => {
    frames = Buffer.concat([frames, chunk]);
    for (let length = frameLength(frames); length !== null; length = frameLength(frames)) {
      const frame = frames.subarray(0, length);
      frames = frames.subarray(length);
      if (((frame[0] as number) & OPCODE_MASK) !== OPCODE_CLOSE) upstream.write(frame);
    }
  };
  client.on('data', (chunk: Buffer) => {
    if (head !== null) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf(HEADERS_END);
      if (end < 0) return;
      swarm = head.subarray(0, end).toString('latin1').startsWith('GET /swarm');
      upstream.write(head.subarray(0, end + HEADERS_END.length));
      chunk = head.subarray(end + HEADERS_END.length);
      head = null;
    }
    if (swarm) forwardFrames(chunk);
    else upstream.write(chunk);
  });
  upstream.on('data', (chunk: Buffer) => {
    if (!client.destroyed) client.write(chunk);
  });
  // The relay's own close still reaches the browser; the browser's never reaches the relay.
  client.on('close', () => {
    if (!swarm) upstream.destroy();
  });
  upstream.on('close', () => client.destroy());
  client.on('error', () => client.destroy()); // a reset tab: its close is handled above
  upstream.on('error', () => upstream.destroy());
  return upstream;
}

export interface SilentCloseProxy {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the proxy on a free port of localhost (a secure context, for WebGPU). */
export async function silentCloseProxy(relayPort: number): Promise<SilentCloseProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = relayConnection(client, relayPort);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  return {
    url: `http://localhost:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
