// The operator's start of a wsd or infinite run's cooldown: the round in progress keeps the rate
// it opened with and the next round cools down; a cosine run, a second start and a caller
// without the operator token are refused; and the start is in the database, so a relay that
// restarts opens the next rounds at the same rates.
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { CooldownBody } from '../../../protocol/cooldown-api.ts';
import type { LrScheduleSettings } from '../../../protocol/lr-schedule-settings.ts';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import { OPERATOR_TOKEN_FILE, readOperatorToken } from '../../../relay/http/operator-token.ts';
import { openPglite } from '../../../relay/ledger/sql-pglite.ts';
import { openCooldownRecord } from '../../../relay/rounds/cooldown-record.ts';
import { createHarness, type Harness, type HarnessPeer, harnessConfig } from '../../helpers/round-harness.ts';
import { startScriptedVolunteer } from '../../helpers/scripted-volunteer.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';

const PEAK = 3e-3;
const FLOOR = PEAK * 0.1;
const WSD: LrScheduleSettings = { kind: 'wsd', cooldownRounds: 4 };
/** wsd's rate in the k-th round of its 4-round cooldown (k from 1). */
const cooling = (k: number) => FLOOR + (PEAK - FLOOR) * (1 - Math.sqrt(k / 4));

/** A run with `lrSchedule` (null: none named, the cosine) and no warmup. */
function wsdConfig(lrSchedule: LrScheduleSettings | null = WSD) {
  const inner = { batchSize: 2, seqLen: 16, learningRate: PEAK, minLrRatio: 0.1, warmupRounds: 0 };
  return harnessConfig({
    inner: lrSchedule ? { ...inner, lrSchedule } : inner,
    schedule: { minPeers: 1 },
  });
}

async function nextRound(h: Harness, peer: HarnessPeer): Promise<number> {
  h.readyAll([peer]);
  h.clock.advance(h.config.schedule.gatherMs);
  await h.settle();
  return h.assignment(peer).learningRate;
}

describe('the coordinator', () => {
  it('cools down from the next round to open; the round in progress keeps its rate; the start is recorded', async () => {
    const record = await openCooldownRecord(await openPglite(), 'run-1');
    const h = await createHarness({ config: wsdConfig(), more: { cooldowns: record } });
    const a = await h.join('a');
    expect(await nextRound(h, a)).toBe(PEAK); // round 0 is open
    const started = await h.coordinator.startCooldown();
    expect(started).toEqual({
      kind: 'started',
      body: { schedule: 'wsd', cooldownFrom: 1, triggered: 1, nextRound: 1, learningRate: cooling(1) },
    });
    expect(h.assignment(a)).toMatchObject({ round: 0, learningRate: PEAK });
    await h.contribute(a);
    expect(h.commits.map((c) => c.round)).toEqual([0]);
    expect(await nextRound(h, a)).toBe(cooling(1));
    await h.contribute(a);
    expect(await nextRound(h, a)).toBe(cooling(2));
    expect(await record.read()).toBe(1);

    // Once begun, a second start is refused, and the record keeps the first.
    expect(await h.coordinator.startCooldown()).toMatchObject({
      kind: 'refused',
      code: 'ERR_COOLDOWN_BEGUN',
    });
    expect(await record.start(7)).toEqual({ round: 1, recorded: false });

    // A relay opening the run again reads the round and opens the next round at the same rate.
    const again = await createHarness({
      config: wsdConfig(),
      more: { cooldowns: record, cooldownTriggered: await record.read() },
    });
    expect(again.coordinator.cooldownView()).toMatchObject({ cooldownFrom: 1, triggered: 1, nextRound: 0 });
    const b = await again.join('b');
    // (Its harness starts over at round 0, which lies before the cooldown: the peak.)
    expect(await nextRound(again, b)).toBe(PEAK);
    await again.contribute(b);
    expect(await nextRound(again, b)).toBe(cooling(1));
  });

  it('between rounds, the next round is the first one after the last commit', async () => {
    const h = await createHarness({ config: wsdConfig() });
    const a = await h.join('a');
    await nextRound(h, a);
    await h.contribute(a);
    expect(await h.coordinator.startCooldown()).toMatchObject({
      kind: 'started',
      body: { cooldownFrom: 1, nextRound: 1 },
    });
    expect(await nextRound(h, a)).toBe(cooling(1));
  });

  it('refuses a cosine run, and a cooldown the config already began', async () => {
    const cosine = await createHarness({ config: wsdConfig(null) });
    expect(await cosine.coordinator.startCooldown()).toMatchObject({
      kind: 'refused',
      status: 409,
      code: 'ERR_COOLDOWN_COSINE',
    });
    expect(cosine.coordinator.cooldownView()).toMatchObject({ schedule: 'cosine', cooldownFrom: null });

    const configured = await createHarness({ config: wsdConfig({ ...WSD, cooldownAt: 0 }) });
    expect(await configured.coordinator.startCooldown()).toMatchObject({
      kind: 'refused',
      code: 'ERR_COOLDOWN_BEGUN',
      message: expect.stringMatching(/cooldownAt/),
    });
    // A configured round still ahead may be brought forward.
    const ahead = await createHarness({ config: wsdConfig({ ...WSD, cooldownAt: 50 }) });
    expect(await ahead.coordinator.startCooldown()).toMatchObject({
      kind: 'started',
      body: { cooldownFrom: 0 },
    });
  });

  it('forgets a start the database could not keep', async () => {
    const failing = { start: async () => Promise.reject(new Error('database gone')) };
    const h = await createHarness({ config: wsdConfig(), more: { cooldowns: failing } });
    await expect(h.coordinator.startCooldown()).rejects.toThrow('database gone');
    expect(h.coordinator.cooldownView()).toMatchObject({
      cooldownFrom: null,
      triggered: null,
      learningRate: PEAK,
    });
  });
});

describe('POST /api/runs/:id/cooldown', () => {
  const overrides = { inner: { learningRate: PEAK, minLrRatio: 0.1, warmupRounds: 0, lrSchedule: WSD } };
  /** The rate of `round` in a run cooling down from `from`. */
  const rateOf = (round: number, from: number) =>
    round < from ? PEAK : cooling(Math.min(4, round - from + 1));
  /** Every assignment a volunteer got, against the schedule cooling down from `from`. */
  const expectRates = (messages: readonly RelayMessage[], from: number) => {
    const assignments = messages.filter((m) => m.type === 'assignment');
    expect(assignments.length).toBeGreaterThan(0);
    const rates = assignments.map((a) => ({ round: a.round, learningRate: a.learningRate }));
    expect(rates).toEqual(rates.map(({ round }) => ({ round, learningRate: rateOf(round, from) })));
  };

  it('needs the operator token, and survives a restart: later rounds train at the cooled rate', async () => {
    const dataset = await smallDataset();
    const stateDir = await mkdtemp(join(tmpdir(), 'potluck-cooldown-'));
    const options = { stateDir, databaseUrl: null, overrides };
    let relay = await startTestRelay(dataset, options);
    // The port is new after the restart; the run is the same.
    const url = () => `${relay.url}/api/runs/${relay.run.id}/cooldown`;
    const file = join(stateDir, OPERATOR_TOKEN_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const token = await readOperatorToken(file);
    if (!token) throw new Error('no operator token made');
    const view = async () => v.parse(CooldownBody, await (await fetch(url())).json());
    expect(await view()).toMatchObject({ schedule: 'wsd', cooldownFrom: null, learningRate: PEAK });

    const volunteer = await startScriptedVolunteer(relay.url, 'v0');
    await volunteer.commits(2);
    const other = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    for (const authorization of [undefined, `Bearer ${other}`, `Basic ${token}`, token, 'Bearer '])
      expect(
        (await fetch(url(), { method: 'POST', headers: authorization ? { authorization } : {} })).status,
      ).toBe(401);
    expect((await view()).cooldownFrom).toBeNull();

    const operator = { authorization: `Bearer ${token}` };
    const started = await fetch(url(), { method: 'POST', headers: operator });
    expect(started.status).toBe(201);
    const { cooldownFrom: from } = v.parse(CooldownBody, await started.json());
    if (from === null) throw new Error('no cooldown round');
    expect(from).toBeGreaterThanOrEqual(2);
    const again = await fetch(url(), { method: 'POST', headers: operator });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: 'ERR_COOLDOWN_BEGUN' } });
    await volunteer.commits(from + 2);
    volunteer.close();
    expectRates(volunteer.messages, from);
    await relay.close();

    // The same state folder: the database kept the round, the token file the token.
    relay = await startTestRelay(dataset, options);
    expect(await readOperatorToken(file)).toBe(token);
    const resumed = await view();
    expect(resumed).toMatchObject({ cooldownFrom: from, triggered: from });
    expect(resumed.nextRound).toBeGreaterThan(from);
    expect(resumed.learningRate).toBe(rateOf(resumed.nextRound, from));
    const later = await startScriptedVolunteer(relay.url, 'v1');
    await later.commits(2);
    later.close();
    expectRates(later.messages, from);
    expect((await fetch(url(), { method: 'POST', headers: operator })).status).toBe(409);
    await relay.close();
  }, 180_000);
});
