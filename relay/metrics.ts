// Prometheus metrics (`/metrics`, text format) for the relay: one registry per relay so tests
// can start several in one process. Gauges that mirror live state are read when scraped.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { Coordinator } from './rounds/coordinator.ts';
import { ABORT_CAUSES, REJECT_CAUSES, type RoundEvents } from './rounds/round-events.ts';
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
      this.set(roundCoordinator(run())?.hashDisagreements ?? 0);
    },
  });
  new Gauge({
    name: 'potluck_rounds_rolled_back',
    help: 'Rounds whose new state the relay refused on its validation loss, since it started',
    registers: [registry],
    collect() {
      this.set(roundCoordinator(run())?.rolledBack ?? 0);
    },
  });
  new Gauge({
    name: 'potluck_swarm_peers',
    help: 'Authenticated volunteers connected to /swarm',
    registers: [registry],
    collect() {
      this.set(leading(run())?.connectedPeers ?? 0);
    },
  });
  new Gauge({
    name: 'potluck_committed_round',
    help: 'Last committed round (-1 before the first)',
    registers: [registry],
    collect() {
      this.set(leading(run())?.lastCommitted.round ?? -1);
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

/** The run's coordinator where this relay leads it (a follower of a cluster has none). */
function leading(run: RelayRun | null): RelayRun['coordinator'] | null {
  return run?.leading ? run.coordinator : null;
}

function roundCoordinator(run: RelayRun | null): Coordinator | null {
  const coordinator = leading(run);
  return coordinator instanceof Coordinator ? coordinator : null;
}

/**
 * The round coordinator's events (rounds/round-events.ts) as metrics an operator alerts on; the
 * README's "What to watch in /metrics" gives thresholds. Every reason label starts at 0, so a
 * rate over it exists before the first abort or rejection. `now` is wall-clock milliseconds.
 */
export function roundEvents(metrics: RelayMetrics, now: () => number = Date.now): RoundEvents {
  const registers = [metrics.registry];
  const opened = new Counter({
    name: 'potluck_rounds_opened_total',
    help: 'Rounds opened since the relay started (committed, aborted, or still running)',
    registers,
  });
  const duration = new Histogram({
    name: 'potluck_round_duration_seconds',
    help: 'Seconds from opening a round to committing it (aborted rounds are not observed)',
    // Deadlines are clamped to [minRoundMs, maxRoundMs], 60 s to 600 s by default.
    buckets: [5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900],
    registers,
  });
  const expected = new Gauge({
    name: 'potluck_round_expected_seconds',
    help:
      'Expected length of the round opened last: its inner steps at the speeds the relay measured, plus ' +
      'its transfers (0-ish until speeds are measured); its deadline is deadlineSlack (3) times this, clamped',
    registers,
  });
  const deadline = new Gauge({
    name: 'potluck_round_deadline_seconds',
    help: 'Seconds from opening to the deadline of the round opened last',
    registers,
  });
  const seated = new Gauge({
    name: 'potluck_round_seated_fraction',
    help: 'Volunteers seated in the round opened last over those ready for it (benched and too-slow ones stay out)',
    registers,
  });
  const lastCommit = new Gauge({
    name: 'potluck_last_commit_timestamp_seconds',
    help: 'Unix time of the last commit of a round by this relay (0 before the first)',
    registers,
  });
  const counted = new Counter({
    name: 'potluck_contributions_counted_total',
    help: 'Frames counted in committed rounds',
    registers,
  });
  const rejected = new Counter({
    name: 'potluck_contributions_rejected_total',
    help:
      'Frames not counted, by reason: invalid (refused at upload), late (after the decision), not-member, ' +
      'equivocation (one per author), unconfirmed (no manifest named it), not-useful (did not lower the held-out loss)',
    labelNames: ['reason'] as const,
    registers,
  });
  const aborted = new Counter({
    name: 'potluck_rounds_aborted_total',
    help: 'Rounds that ended without a commit, by reason: no-manifest, no-valid-frame, aggregate, state-refused, ledger, error',
    labelNames: ['reason'] as const,
    registers,
  });
  const bans = new Counter({
    name: 'potluck_bans_total',
    help: 'Keys banned for a failed or unanswered work check, since the relay started',
    registers,
  });
  for (const reason of REJECT_CAUSES) rejected.inc({ reason }, 0);
  for (const reason of ABORT_CAUSES) aborted.inc({ reason }, 0);
  return {
    opened: (round) => {
      opened.inc();
      expected.set(round.expectedSeconds);
      deadline.set(round.deadlineSeconds);
      seated.set(round.ready > 0 ? round.seated / round.ready : 0);
    },
    committed: (_round, seconds, frames) => {
      duration.observe(seconds);
      counted.inc(frames);
      lastCommit.set(now() / 1000);
    },
    aborted: (_round, reason) => aborted.inc({ reason }),
    rejected: (reason) => rejected.inc({ reason }),
    banned: () => bans.inc(),
  };
}
