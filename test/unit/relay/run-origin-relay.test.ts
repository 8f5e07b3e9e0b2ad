// A run that starts from another, end to end on a real relay: run A commits rounds with
// scripted volunteers; the relay restarts on the same state folder with run B, whose origin
// names A. B's round 0 state is A's committed state bit for bit, /api/runs/:id and the ledger
// say where B came from (signed), a volunteer that derived θ_0 from the seed fetches the served
// state and trains B's round 0 from it, a restart keeps the record, and a run whose model does
// not fit A is refused before it opens.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRoundState } from '../../../protocol/round-state-file.ts';
import {
  CHECKPOINT_HASH_HEADER,
  CHECKPOINT_ROUND_HEADER,
  type RunDetailBody,
} from '../../../protocol/run-api.ts';
import { verifyRunOrigin } from '../../../protocol/run-origin-record.ts';
import type { RelayHandle } from '../../../relay/server.ts';
import { expectBitIdentical } from '../../helpers/compare.ts';
import { startScriptedVolunteer } from '../../helpers/scripted-volunteer.ts';
import { SCRIPTED_MODEL, smallDataset, startTestRelay } from '../../helpers/test-relay.ts';

describe('a run that starts from an earlier run', () => {
  let stateDir: string;
  let dataset: string;
  let runA: { id: string; round: number; hash: string; bytes: Uint8Array };
  const relays: RelayHandle[] = [];
  /** A relay on the shared state folder and its embedded database (not in memory: runs outlive it). */
  const start = async (overrides: Record<string, unknown> = {}) => {
    const relay = await startTestRelay(dataset, { stateDir, databaseUrl: null, overrides });
    relays.push(relay);
    return relay;
  };
  const stop = async (relay: RelayHandle) => {
    await relay.close();
    relays.splice(relays.indexOf(relay), 1);
  };
  const detail = async (relay: RelayHandle): Promise<RunDetailBody> =>
    (await fetch(`${relay.url}/api/runs/${relay.run.id}`)).json() as Promise<RunDetailBody>;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'potluck-origin-relay-'));
    dataset = await smallDataset();
    const relay = await start();
    const volunteers = await Promise.all([0, 1].map((i) => startScriptedVolunteer(relay.url, `a${i}`)));
    await Promise.all(volunteers.map((v) => v.commits(3, 60_000)));
    for (const v of volunteers) v.close();
    const response = await fetch(`${relay.url}/api/runs/${relay.run.id}/checkpoint`);
    runA = {
      id: relay.run.id,
      round: Number(response.headers.get(CHECKPOINT_ROUND_HEADER)),
      hash: response.headers.get(CHECKPOINT_HASH_HEADER) as string,
      bytes: new Uint8Array(await response.arrayBuffer()),
    };
    expect(runA.round).toBeGreaterThanOrEqual(2);
    expect((await detail(relay)).origin).toBeNull();
    await stop(relay);
  }, 180_000);
  afterAll(async () => {
    for (const relay of [...relays]) await relay.close();
  });

  it('serves A’s committed state as B’s round 0, records the origin, and trains from it', async () => {
    const relay = await start({ origin: { kind: 'run', run: runA.id } });
    expect(relay.run.id).not.toBe(runA.id);
    const body = await detail(relay);
    expect(body.committedRound).toBe(-1);
    expect(body.modelHash).toBe(runA.hash);
    expect(body.config.origin).toEqual({ kind: 'run', run: runA.id });
    expect(body.origin).toMatchObject({
      runId: relay.run.id,
      kind: 'run',
      source: runA.id,
      round: runA.round,
      modelHash: runA.hash,
    });
    expect(await verifyRunOrigin(body.origin, relay.run.relayKey)).toBe(true);

    // Round 0's state, as the relay serves it to a volunteer, is A's committed one, bit for bit.
    const served = await fetch(`${relay.url}/api/runs/${relay.run.id}/checkpoint`);
    expect(served.headers.get(CHECKPOINT_ROUND_HEADER)).toBe('-1');
    expect(served.headers.get(CHECKPOINT_HASH_HEADER)).toBe(runA.hash);
    const ours = await decodeRoundState(
      SCRIPTED_MODEL,
      new Uint8Array(await served.arrayBuffer()),
      runA.hash,
    );
    const theirs = await decodeRoundState(SCRIPTED_MODEL, runA.bytes, runA.hash);
    if (!ours.ok || !theirs.ok) throw new Error('a state did not decode');
    expectBitIdentical('weights', ours.state.weights, theirs.state.weights);
    expectBitIdentical('momentum', ours.state.momentum, theirs.state.momentum);

    // A volunteer starts from θ_0 of the seed, is told to fetch the served state, and trains
    // B's round 0 from A's weights.
    const volunteer = await startScriptedVolunteer(relay.url, 'b0');
    expect(volunteer.held.hash).not.toBe(runA.hash);
    await volunteer.commits(1, 60_000);
    const assignment = volunteer.messages.find((m) => m.type === 'assignment');
    expect(assignment).toMatchObject({ round: 0, modelHash: runA.hash });
    volunteer.close();
    await stop(relay);

    // Reopened, B keeps the origin it recorded, and goes on from its own round.
    const again = await start({ origin: { kind: 'run', run: runA.id } });
    const reopened = await detail(again);
    expect(reopened.origin).toEqual(body.origin);
    expect(reopened.committedRound).toBeGreaterThanOrEqual(0);
    await stop(again);
  }, 180_000);

  it('refuses, before the run opens, a run whose model does not fit A', async () => {
    const wider = { ...SCRIPTED_MODEL, dModel: 64 };
    const started = start({ origin: { kind: 'run', run: runA.id, round: runA.round }, model: wider });
    await expect(started).rejects.toMatchObject({
      name: 'RunOriginError',
      code: 'ERR_ORIGIN_SHAPE',
      mismatch: { tensor: 'wte.weight', shape: [256, 32], expected: [256, 64] },
    });
    await expect(started).rejects.toThrow(
      "wte.weight is [256, 32] in the origin, the run's model needs [256, 64]",
    );
  }, 60_000);
});
