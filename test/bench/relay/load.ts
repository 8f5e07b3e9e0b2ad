// The load: N WebSocket clients in rooms of `roomSize` (like y-webrtc rooms), each keeping one
// publish in flight (closed loop): it publishes, waits for its own echo, publishes again. With
// N publishes always queued the server runs flat out, so delivered messages per second is its
// saturation throughput, and publish→echo time is the latency a client sees at that load.
import { clientFrame, OPCODE_TEXT, RawWsClient } from './raw-client.ts';

/** One measured window of closed-loop load. */
export interface LoadWindow {
  /** Messages the clients received (one publish reaches its whole room). */
  readonly received: number;
  /** Publishes echoed back to their sender. */
  readonly echoes: number;
  /** Publish→echo times, ms. */
  readonly latencies: Float64Array;
  readonly measuredMs: number;
  /** CPU seconds this process (the load generator) and the server spent in the window. */
  readonly loadCpuSeconds: number;
  readonly serverCpuSeconds: number;
}

const topicOf = (room: number) => `room-${String(room).padStart(6, '0')}`;
/** The publish of client `slot` in `room`; its `from` digit tells its echo from the others'. */
function publishText(room: number, slot: number): string {
  return JSON.stringify({ type: 'publish', topic: topicOf(room), data: { from: slot } });
}
/** Both servers echo the publisher's JSON first, so the digit sits at the same place. */
const FROM_OFFSET = publishText(0, 0).indexOf('"from":') + '"from":'.length;
const DIGIT_ZERO = 0x30;
const textFrame = (text: string) => clientFrame(OPCODE_TEXT, Buffer.from(text));
const PING = textFrame('{"type":"ping"}');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** N connected, subscribed clients of one server, idle between windows. */
export class LoadFleet {
  readonly #sockets: RawWsClient[] = [];
  readonly #frames: Buffer[] = [];
  readonly #sentAt: Float64Array;
  #latencies = new Float64Array(1 << 16);
  #latencyCount = 0;
  #phase: 'sync' | 'run' | 'idle' = 'sync';
  #measuring = false;
  #received = 0;
  #echoes = 0;
  #inFlight = 0;
  #pongs = 0;
  #onPongs: (() => void) | undefined;
  #onDrained: (() => void) | undefined;
  #closing = false;
  /** Connections the server closed (should stay 0). */
  closedByServer = 0;

  private constructor(readonly clients: number) {
    this.#sentAt = new Float64Array(clients);
  }

  /** Connects `clients` clients, `batch` at a time, and subscribes each to its room. */
  static async connect(
    port: number,
    path: string,
    clients: number,
    roomSize: number,
    batch: number,
  ): Promise<LoadFleet> {
    if (roomSize > 10) throw new RangeError('rooms of at most 10: the sender is one digit');
    const fleet = new LoadFleet(clients);
    for (let start = 0; start < clients; start += batch) {
      const opening: Promise<void>[] = [];
      for (let i = start; i < Math.min(clients, start + batch); i++)
        opening.push(fleet.#open(port, path, i, roomSize));
      await Promise.all(opening);
    }
    // One ping each: its pong means the subscribe before it was handled.
    await new Promise<void>((resolve) => {
      fleet.#onPongs = resolve;
      for (const socket of fleet.#sockets) socket.send(PING);
    });
    fleet.#phase = 'idle';
    return fleet;
  }

  async #open(port: number, path: string, index: number, roomSize: number): Promise<void> {
    const room = Math.floor(index / roomSize);
    const own = DIGIT_ZERO + (index % roomSize);
    this.#frames[index] = textFrame(publishText(room, index % roomSize));
    const socket = await RawWsClient.open('127.0.0.1', port, path, (_opcode, data, start) =>
      this.#onMessage(index, data[start + FROM_OFFSET], own),
    );
    socket.socket.on('close', () => {
      if (!this.#closing) this.closedByServer++;
    });
    this.#sockets[index] = socket;
    socket.send(textFrame(JSON.stringify({ type: 'subscribe', topics: [topicOf(room)] })));
  }

  /** `from` is the byte where a publish from this fleet carries its sender's digit. */
  #onMessage(index: number, from: number | undefined, own: number): void {
    if (this.#phase === 'sync') {
      if (++this.#pongs === this.clients) this.#onPongs?.();
      return;
    }
    if (this.#measuring) this.#received++;
    if (from !== own) return;
    const now = performance.now();
    if (this.#measuring) {
      this.#echoes++;
      if (this.#latencyCount === this.#latencies.length) {
        const grown = new Float64Array(this.#latencies.length * 2);
        grown.set(this.#latencies);
        this.#latencies = grown;
      }
      this.#latencies[this.#latencyCount++] = now - (this.#sentAt[index] ?? now);
    }
    if (this.#phase === 'run') {
      this.#sentAt[index] = now;
      const frame = this.#frames[index];
      if (frame) this.#sockets[index]?.send(frame);
    } else if (--this.#inFlight === 0) this.#onDrained?.();
  }

  /** Runs the closed loop: `warmupMs` unmeasured, `measureMs` measured, then drains. */
  async run(warmupMs: number, measureMs: number, serverCpuSeconds: () => number): Promise<LoadWindow> {
    this.#received = 0;
    this.#echoes = 0;
    this.#latencyCount = 0;
    this.#phase = 'run';
    this.#inFlight = this.clients;
    for (const [index, socket] of this.#sockets.entries()) {
      this.#sentAt[index] = performance.now();
      const frame = this.#frames[index];
      if (frame) socket.send(frame);
    }
    await sleep(warmupMs);
    this.#measuring = true;
    const cpuBefore = process.cpuUsage();
    const serverBefore = serverCpuSeconds();
    const started = performance.now();
    await sleep(measureMs);
    this.#measuring = false;
    const measuredMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const serverCpu = serverCpuSeconds() - serverBefore;
    this.#phase = 'idle';
    // Let the publishes in flight come back, so the next window starts from an idle server.
    await Promise.race([
      new Promise<void>((resolve) => {
        this.#onDrained = resolve;
      }),
      sleep(10_000),
    ]);
    return {
      received: this.#received,
      echoes: this.#echoes,
      latencies: this.#latencies.slice(0, this.#latencyCount),
      measuredMs,
      loadCpuSeconds: (cpu.user + cpu.system) / 1e6,
      serverCpuSeconds: serverCpu,
    };
  }

  close(): void {
    this.#closing = true;
    for (const socket of this.#sockets) socket.destroy();
  }
}

export interface LoadResult {
  /** Messages the clients received per second (one publish reaches a whole room). */
  readonly messagesPerSecond: number;
  /** Publishes echoed back to their sender per second. */
  readonly publishesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The server's CPU use while measured, in cores: near 1 means it was the bottleneck. */
  readonly serverCpu: number;
  /**
   * Messages per CPU-second of the server: its cost per message, which holds up when other
   * processes take part of its core (the throughput figures do not).
   */
  readonly messagesPerServerCpuSecond: number;
  /** The load generator's CPU use, in cores: well below 1 means it was not the bottleneck. */
  readonly loadCpu: number;
  readonly measuredSeconds: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

/** Totals over windows (throughput = all messages / all measured time; percentiles of all). */
export function summarize(windows: readonly LoadWindow[]): LoadResult {
  const sum = (pick: (window: LoadWindow) => number) => windows.reduce((total, w) => total + pick(w), 0);
  const seconds = sum((w) => w.measuredMs) / 1000;
  const received = sum((w) => w.received);
  const latencies = new Float64Array(sum((w) => w.latencies.length));
  let offset = 0;
  for (const window of windows) {
    latencies.set(window.latencies, offset);
    offset += window.latencies.length;
  }
  latencies.sort();
  const serverCpuSeconds = sum((w) => w.serverCpuSeconds);
  return {
    messagesPerSecond: received / seconds,
    publishesPerSecond: sum((w) => w.echoes) / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    serverCpu: serverCpuSeconds / seconds,
    messagesPerServerCpuSecond: received / serverCpuSeconds,
    loadCpu: sum((w) => w.loadCpuSeconds) / seconds,
    measuredSeconds: seconds,
  };
}
