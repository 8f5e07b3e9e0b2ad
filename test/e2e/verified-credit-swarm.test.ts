// Credit only for verified work, end to end with real WebRTC and the real relay: three honest
// headless volunteers (GPU through Dawn/SwiftShader) train beside free-riders built on the same
// peer runtime (test/helpers/attacking-volunteer.ts): one that sends zeros, one that passes off
// a frame it received over the mesh as its own, and five identities of one attacker that copy
// too. Every one of them claims a billion tokens a second. Every identity starts on probation,
// so every contribution is checked: the relay redoes it on its CPU from the member's revealed
// starting state. The attackers end with no verified credit and banned; every receipt an honest
// volunteer was handed is in the ledger, which verifies end to end.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { Receipt } from '../../protocol/ledger-signatures.ts';
import type { RelayHandle } from '../../relay/server.ts';
import { FileVolunteerStore } from '../../web/node/file-store.ts';
import { type NodeVolunteer, startNodeVolunteer } from '../../web/node/node-volunteer.ts';
import { type AttackingVolunteer, startAttackingVolunteer } from '../helpers/attacking-volunteer.ts';
import { gpuSwarmOverrides } from '../helpers/gpu-swarm-run.ts';
import { auditLedger } from '../helpers/ledger-audit.ts';
import { nodeContext } from '../helpers/node-context.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';
import { memoryTuneCache } from '../helpers/tune-cache-memory.ts';

const ROUNDS = 4;
const HONEST = 3;

const running: { stop(): Promise<void> }[] = [];
let relay: RelayHandle | null = null;

afterAll(async () => {
  await Promise.all(running.map((v) => v.stop()));
  await relay?.close();
});

it('leaves free-riders and sybils with no verified credit, banned, and honest receipts intact', async () => {
  relay = await startTestRelay(await smallDataset(8), {
    overrides: gpuSwarmOverrides(HONEST, {
      // Every identity on probation for its first two contributions, half of them checked after.
      verification: { probationRounds: 2, checkProbability: 0.5, revealMs: 30_000 },
    }),
  });
  const attackers: { role: string; volunteer: AttackingVolunteer }[] = [];
  const enlist = async (role: string, kind: 'zero' | 'copy') => {
    const volunteer = await startAttackingVolunteer(relay?.url as string, role, {
      kind,
      ...(kind === 'zero' ? { lie: false } : {}),
    } as never);
    attackers.push({ role, volunteer });
    running.push(volunteer);
  };
  await enlist('free-rider-zero', 'zero');
  await enlist('free-rider-copy', 'copy');
  for (let i = 0; i < 5; i++) await enlist(`sybil-${i}`, 'copy');
  const honest: { volunteer: NodeVolunteer; stateDir: string }[] = [];
  for (let i = 0; i < HONEST; i++) {
    const stateDir = await mkdtemp(join(tmpdir(), 'potluck-honest-'));
    const volunteer = await startNodeVolunteer({
      relay: relay.url,
      name: `honest-${i}`,
      stateDir,
      ctx: await nodeContext(),
      tuneCache: memoryTuneCache(),
    });
    honest.push({ volunteer, stateDir });
    running.push(volunteer);
  }
  const run = relay.run;
  await expect
    .poll(() => run.coordinator.lastCommitted.round, { timeout: 600_000, interval: 250 })
    .toBeGreaterThanOrEqual(ROUNDS - 1);
  // The checks of the last rounds settle at the next commits; one more round records them.
  const settledAt = run.coordinator.lastCommitted.round + 1;
  await expect
    .poll(() => run.coordinator.lastCommitted.round, { timeout: 300_000, interval: 250 })
    .toBeGreaterThanOrEqual(settledAt);
  for (const v of running) await v.stop();

  const board = new Map((await run.ledger.leaderboard(run.id)).map((row) => [row.publicKey, row]));
  const lines: string[] = [];
  for (const { role, volunteer } of attackers) {
    const row = board.get(volunteer.peerId);
    lines.push(
      `${role}: verified ${row?.verifiedCredits ?? 0}, provisional ${row?.provisionalCredits ?? 0}, banned ${row?.banned ?? false}`,
    );
    expect(row?.verifiedCredits ?? 0, role).toBe(0);
    expect(row?.provisionalCredits ?? 0, role).toBe(0);
    expect(row?.banned, role).toBe(true);
  }
  const receipts: Receipt[] = [];
  for (const [i, { volunteer, stateDir }] of honest.entries()) {
    const row = board.get(volunteer.peerId);
    const kept = await (await FileVolunteerStore.open(stateDir)).receipts();
    receipts.push(...kept);
    lines.push(
      `honest-${i}: verified ${row?.verifiedCredits}, provisional ${row?.provisionalCredits}, ${kept.length} receipts`,
    );
    expect(row?.verifiedCredits, `honest-${i}`).toBeGreaterThan(0);
    expect(row?.banned, `honest-${i}`).toBe(false);
    expect(kept.length, `honest-${i}`).toBeGreaterThan(0);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  // Every receipt handed out is in the ledger, and the ledger verifies from genesis to its head.
  await auditLedger(relay.url, receipts);
}, 1_200_000);
