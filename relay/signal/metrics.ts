// Prometheus metrics for /signal, read from the server's own counters when scraped: the hot
// path increments plain numbers and never touches prom-client (whose inc() hashes labels).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SignalStats } from './server-stats.ts';

/** Registers the metrics on `registry`; prom-client throws if the names are taken already. */
export function registerSignalMetrics(registry: Registry, read: () => SignalStats): void {
  const registers = [registry];
  new Gauge({
    name: 'potluck_signal_connections',
    help: 'Open /signal WebSocket connections.',
    registers,
    collect() {
      this.set(read().connections);
    },
  });
  new Gauge({
    name: 'potluck_signal_topics',
    help: 'Topics (rooms) with at least one subscriber.',
    registers,
    collect() {
      this.set(read().topics);
    },
  });
  // A counter's collect sets its absolute value: reset, then add the running total.
  new Counter({
    name: 'potluck_signal_messages_in_total',
    help: 'Frames received from signaling clients, refused ones included.',
    registers,
    collect() {
      this.reset();
      this.inc(read().messagesIn);
    },
  });
  new Counter({
    name: 'potluck_signal_messages_out_total',
    help: 'Frames sent to signaling clients (one per receiver of a publish, and pongs).',
    registers,
    collect() {
      this.reset();
      this.inc(read().messagesOut);
    },
  });
  new Counter({
    name: 'potluck_signal_bridge_held_back_total',
    help: "Publishes kept from a cluster's other relays: past their address's share of the bridge.",
    registers,
    collect() {
      this.reset();
      this.inc(read().bridgeHeldBack);
    },
  });
  new Counter({
    name: 'potluck_signal_refused_total',
    help: 'Connections closed or upgrades refused, by stable error code.',
    labelNames: ['code'] as const,
    registers,
    collect() {
      this.reset();
      for (const [code, count] of Object.entries(read().refused)) this.inc({ code }, count);
    },
  });
}
