// Prometheus metrics (`/metrics`, text format) for the relay: one registry per relay so tests
// can start several in one process. Gauges that mirror live state are read when scraped.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { RelayRun } from './run/relay-run.ts';

export interface RelayMetrics {
  readonly registry: Registry;
  readonly roundsCommitted: Counter;
  readonly creditedFlops: Counter;
  readonly creditedTokens: Counter;
}

export function createRelayMetrics(): RelayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'potluck_relay_' });
  return {
    registry,
    roundsCommitted: new Counter({
      name: 'potluck_rounds_committed_total',
      help: 'Rounds committed since the relay started',
      registers: [registry],
    }),
    creditedFlops: new Counter({
      name: 'potluck_credited_flops_total',
      help: 'Training FLOPs credited (6 x parameters x tokens) since the relay started',
      registers: [registry],
    }),
    creditedTokens: new Counter({
      name: 'potluck_credited_tokens_total',
      help: 'Training tokens credited since the relay started',
      registers: [registry],
    }),
  };
}

/** Gauges of the run's live state, read at scrape time. */
export function observeRun(metrics: RelayMetrics, run: () => RelayRun | null): void {
  const { registry } = metrics;
  new Gauge({
    name: 'potluck_model_hash_disagreements',
    help: 'Model-hash reports that differed from the state the relay committed, since it started',
    registers: [registry],
    collect() {
      this.set(run()?.summary().hashDisagreements ?? 0);
    },
  });
  new Gauge({
    name: 'potluck_rounds_rolled_back',
    help: 'Rounds whose new state the relay refused on its validation loss, since it started',
    registers: [registry],
    collect() {
      this.set(run()?.summary().rolledBack ?? 0);
    },
  });
  new Gauge({
    name: 'potluck_swarm_peers',
    help: 'Authenticated volunteers connected to /swarm',
    registers: [registry],
    collect() {
      this.set(run()?.coordinator.connectedPeers ?? 0);
    },
  });
  new Gauge({
    name: 'potluck_committed_round',
    help: 'Last committed round (-1 before the first)',
    registers: [registry],
    collect() {
      this.set(run()?.coordinator.lastCommitted.round ?? -1);
    },
  });
  new Gauge({
    name: 'potluck_epoch',
    help: 'Epoch of the training split the shard pool is in',
    registers: [registry],
    collect() {
      this.set(run()?.pool.epoch ?? 0);
    },
  });
}
