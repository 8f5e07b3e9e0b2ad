// The metrics an operator alerts on (relay/metrics.ts, README "What to watch in /metrics"),
// fed by the round coordinator's events on a manual clock: rounds opened and how many of the
// ready volunteers were seated, how long a round took from opening to commit, rounds aborted
// by reason, frames not counted by reason, and bans.
import { describe, expect, it } from 'vitest';
import { createRelayMetrics, type RelayMetrics, roundEvents } from '../../../relay/metrics.ts';
import { createHarness, type Harness, harnessConfig } from '../../helpers/round-harness.ts';

const NOW_MS = 1_700_000_000_000;

/** The value of one series (`name` or `name{label="value"}`) as /metrics shows it. */
async function value(metrics: RelayMetrics, series: string): Promise<number | undefined> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function harness(config = harnessConfig()): Promise<{ h: Harness; metrics: RelayMetrics }> {
  const metrics = createRelayMetrics();
  const h = await createHarness({ config, events: roundEvents(metrics, () => NOW_MS) });
  return { h, metrics };
}

describe('round metrics', () => {
  it('says how long a round took, how many ready volunteers it seated, and which frames did not count', async () => {
    const { h, metrics } = await harness();
    const [a, b, c] = [await h.join('a'), await h.join('b'), await h.join('c')];
    h.readyAll([a, b, c]);
    h.clock.advance(h.config.schedule.gatherMs);
    await h.settle();
    expect(await value(metrics, 'potluck_rounds_opened_total')).toBe(1);
    expect(await value(metrics, 'potluck_round_seated_fraction')).toBe(1);
    expect(await value(metrics, 'potluck_round_deadline_seconds')).toBe(60); // the harness's min = max
    expect(await value(metrics, 'potluck_round_expected_seconds')).toBeGreaterThan(0);
    // Every reason is there from the start, at 0: a rate over it exists before the first.
    for (const reason of ['invalid', 'late', 'not-member', 'equivocation', 'unconfirmed', 'not-useful'])
      expect(await value(metrics, `potluck_contributions_rejected_total{reason="${reason}"}`)).toBe(0);
    expect(await value(metrics, 'potluck_rounds_aborted_total{reason="no-manifest"}')).toBe(0);

    const { round } = h.assignment(a);
    // Joined after the round opened: no seat.
    const d = await h.join('d');
    expect(await h.coordinator.upload(d.id, round, h.frame(a), 'x')).toMatchObject({
      kind: 'refused',
      status: 403,
      code: 'ERR_NOT_A_MEMBER',
    });
    // Too large to be a frame of this run.
    expect(await h.upload(a, new Uint8Array(10_000_000))).toMatchObject({ kind: 'refused' });
    // c uploads but names nothing in a manifest by the decision.
    expect(await h.upload(c, h.frame(c))).toMatchObject({ kind: 'stored' });
    await h.contribute(a);
    await h.contribute(b);
    h.clock.advance(h.config.schedule.graceMs);
    await h.settle();
    expect(h.commits.map((r) => r.round)).toEqual([round]);
    expect(await value(metrics, 'potluck_round_duration_seconds_count')).toBe(1);
    expect(await value(metrics, 'potluck_round_duration_seconds_sum')).toBe(h.config.schedule.graceMs / 1000);
    expect(await value(metrics, 'potluck_contributions_counted_total')).toBe(2);
    expect(await value(metrics, 'potluck_last_commit_timestamp_seconds')).toBe(NOW_MS / 1000);
    // A member's frame after the decision is late, not a stranger's, and told so.
    expect(await h.coordinator.upload(c.id, round, h.frame(c), 'x')).toMatchObject({
      kind: 'refused',
      status: 409,
      code: 'ERR_FRAME_LATE',
    });
    for (const [reason, count] of [
      ['not-member', 1],
      ['invalid', 1],
      ['unconfirmed', 1],
      ['late', 1],
      ['equivocation', 0],
    ] as const)
      expect(await value(metrics, `potluck_contributions_rejected_total{reason="${reason}"}`)).toBe(count);

    // The next round: c, benched for missing the decision, is ready but not seated; then nobody
    // sends anything by the deadline.
    h.readyAll([a, b, c]);
    h.clock.advance(h.config.schedule.gatherMs);
    await h.settle();
    expect(await value(metrics, 'potluck_rounds_opened_total')).toBe(2);
    expect(c.last('wait')?.reason).toMatch(/benched/);
    expect(await value(metrics, 'potluck_round_seated_fraction')).toBeCloseTo(2 / 3);
    h.clock.advance(60_000);
    await h.settle();
    expect(await value(metrics, 'potluck_rounds_aborted_total{reason="no-manifest"}')).toBe(1);
    expect(await value(metrics, 'potluck_round_duration_seconds_count')).toBe(1); // aborts are not observed
  });

  it('counts an equivocating author once, and bans', async () => {
    // Every contribution is checked while on probation; one unanswered check bans.
    const config = harnessConfig({
      verification: { probationRounds: 3, checkProbability: 1, maxUnansweredChecks: 1, revealMs: 1_000 },
    });
    const { h, metrics } = await harness(config);
    const [a, b, c] = [await h.join('a'), await h.join('b'), await h.join('c')];
    h.readyAll([a, b, c]);
    h.clock.advance(h.config.schedule.gatherMs);
    await h.settle();
    await h.contribute(c);
    expect(await h.upload(c, h.frame(c, new Float32Array(h.totalFloats).fill(-0.02)))).toMatchObject({
      kind: 'equivocation',
    });
    expect(await h.upload(c, h.frame(c, new Float32Array(h.totalFloats).fill(0.03)))).toMatchObject({
      kind: 'equivocation',
    });
    await h.contribute(a);
    await h.contribute(b);
    await h.settle();
    expect(h.commits).toHaveLength(1);
    expect(await value(metrics, 'potluck_contributions_rejected_total{reason="equivocation"}')).toBe(1);
    // a and b are asked for their starting state and never answer.
    expect(a.last('check')).toBeDefined();
    h.clock.advance(1_000);
    await h.settle();
    expect(await value(metrics, 'potluck_bans_total')).toBe(2);
  });
});
