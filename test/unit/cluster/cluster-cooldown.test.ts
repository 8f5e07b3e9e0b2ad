// The operator's cooldown start on a run two relays serve: sent to the relay that does not lead,
// it is passed on with its token to the leader, which checks the token, records the round in
// the shared database and applies it; when the leader goes away, the relay that takes the run
// over reads the round back and keeps cooling down from it.
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { afterAll, describe, expect, it } from 'vitest';
import { CooldownBody } from '../../../protocol/cooldown-api.ts';
import { OPERATOR_TOKEN_FILE, readOperatorToken } from '../../../relay/http/operator-token.ts';
import type { RelayHandle } from '../../../relay/server.ts';
import { freshClusterDatabase, POSTGRES_URL, stateDirSharingKey } from '../../helpers/cluster-database.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';

const TIMINGS = { leaseMs: 1_000, heartbeatMs: 250, staleMs: 1_000 };
const overrides = { inner: { warmupRounds: 0, lrSchedule: { kind: 'wsd', cooldownRounds: 10 } } };

describe.skipIf(!POSTGRES_URL)('the cooldown on a cluster', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  });

  it('is started through either relay, checked and kept by the leader, and survives it', async () => {
    const dataset = await smallDataset();
    const db = await freshClusterDatabase();
    cleanup.push(() => db.dispose());
    const firstDir = await mkdtemp(join(tmpdir(), 'potluck-cluster-'));
    const options = { databaseUrl: db.url, cluster: TIMINGS, overrides };
    const a: RelayHandle = await startTestRelay(dataset, { ...options, stateDir: firstDir });
    cleanup.push(() => a.close());
    // The second relay gets the first's relay key and operator token, as the README says.
    const secondDir = await stateDirSharingKey(firstDir);
    await copyFile(join(firstDir, OPERATOR_TOKEN_FILE), join(secondDir, OPERATOR_TOKEN_FILE));
    const b = await startTestRelay(dataset, { ...options, stateDir: secondDir });
    cleanup.push(() => b.close());
    await expect.poll(() => a.run.leading || b.run.leading, { timeout: 10_000 }).toBe(true);
    const [leader, follower] = a.run.leading ? [a, b] : [b, a];
    const token = await readOperatorToken(join(firstDir, OPERATOR_TOKEN_FILE));
    const url = (relay: RelayHandle) => `${relay.url}/api/runs/${relay.run.id}/cooldown`;
    const view = async (relay: RelayHandle) => v.parse(CooldownBody, await (await fetch(url(relay))).json());
    const post = (relay: RelayHandle, authorization: string) =>
      fetch(url(relay), { method: 'POST', headers: { authorization } });

    expect(await view(follower)).toMatchObject({ schedule: 'wsd', cooldownFrom: null });
    expect((await post(follower, `Bearer ${'A'.repeat(43)}`)).status).toBe(401);
    const started = await post(follower, `Bearer ${token}`);
    expect(started.status).toBe(201);
    const { cooldownFrom } = v.parse(CooldownBody, await started.json());
    expect(cooldownFrom).toBe(0);
    expect(await view(leader)).toMatchObject({ cooldownFrom: 0, triggered: 0 });

    await leader.close();
    await expect.poll(() => follower.run.leading, { timeout: 10_000 }).toBe(true);
    expect(await view(follower)).toMatchObject({ cooldownFrom: 0, triggered: 0 });
    expect((await post(follower, `Bearer ${token}`)).status).toBe(409);
  }, 90_000);
});
