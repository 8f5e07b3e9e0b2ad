// Attacks end to end, with real WebRTC and the real relay: three honest headless volunteers
// (GPU through Dawn/SwiftShader) train a tiny model while attacking volunteers built on the
// same peer runtime (test/helpers/attacking-volunteer.ts) try to take the model over: by
// equivocation (two signed frames uploaded for one round, and a third sent to the group over
// the mesh, which honest members ignore), by a ×20 sign flip, and as three colluding identities that send zeros and
// report a crafted hash. Each scenario runs the same number of rounds as a clean run; the
// honest volunteers always hold the state the relay committed, the attackers' crafted hash
// never commits, and the validation loss stays within the bench's margin of the clean run.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Coordinator } from '../../relay/rounds/coordinator.ts';
import type { RelayHandle } from '../../relay/server.ts';
import { type NodeVolunteer, startNodeVolunteer } from '../../web/node/node-volunteer.ts';
import {
  type Attack,
  type AttackingVolunteer,
  startAttackingVolunteer,
} from '../helpers/attacking-volunteer.ts';
import { GPU_SWARM_MODEL, gpuSwarmOverrides } from '../helpers/gpu-swarm-run.ts';
import { nodeContext } from '../helpers/node-context.ts';
import { stateValidationLoss } from '../helpers/state-validation-loss.ts';
import { smallDataset, startTestRelay } from '../helpers/test-relay.ts';
import { memoryTuneCache } from '../helpers/tune-cache-memory.ts';

const ROUNDS = 6;
const HONEST = 3;
/** The bench's margin for 3 attackers in 10; these scenarios have 1 in 4 and 3 in 6. */
const MARGIN_PERCENT = 5;

interface Outcome {
  readonly valLoss: number;
  readonly committedHashes: readonly string[];
  /** Attackers the relay proved to equivocate and excluded. */
  readonly excludedAttackers: number;
  readonly honestInSync: boolean;
}

const running: { stop(): Promise<void> }[] = [];
let dataset = '';

afterAll(async () => {
  await Promise.all(running.map((v) => v.stop()));
});

function excluded(relay: RelayHandle): ReadonlySet<string> {
  const { coordinator } = relay.run;
  return coordinator instanceof Coordinator ? coordinator.excludedPeers : new Set();
}

async function scenario(name: string, attacks: readonly Attack[]): Promise<Outcome> {
  dataset ||= await smallDataset(8);
  const relay: RelayHandle = await startTestRelay(dataset, {
    // Attackers join first (they need no GPU), so every round seats them; an excluded
    // equivocator must not stall the run below minPeers.
    overrides: gpuSwarmOverrides(HONEST, {
      guard: { validationSequences: 2 }, // real training: the relay scores steps and states
    }),
  });
  const honest: NodeVolunteer[] = [];
  const attackers: AttackingVolunteer[] = [];
  try {
    for (const [i, attack] of attacks.entries()) {
      const attacker = await startAttackingVolunteer(relay.url, `${name}-attacker-${i}`, attack);
      attackers.push(attacker);
      running.push(attacker);
    }
    for (let i = 0; i < HONEST; i++) {
      const volunteer = await startNodeVolunteer({
        relay: relay.url,
        name: `${name}-honest-${i}`,
        stateDir: await mkdtemp(join(tmpdir(), 'potluck-honest-')),
        ctx: await nodeContext(),
        tuneCache: memoryTuneCache(),
      });
      honest.push(volunteer);
      running.push(volunteer);
    }
    const committed = () => relay.run.coordinator.lastCommitted.round;
    await expect.poll(committed, { timeout: 300_000, interval: 250 }).toBeGreaterThanOrEqual(ROUNDS - 1);
    for (const v of [...honest, ...attackers]) await v.stop();
    const last = relay.run.coordinator.lastCommitted;
    const state = new Uint8Array(
      await (await relay.app.request(`/api/runs/${relay.run.id}/checkpoint`)).arrayBuffer(),
    );
    const rounds = (await relay.run.ledger.rounds(relay.run.id)).slice(0, ROUNDS);
    const outcome: Outcome = {
      valLoss: await stateValidationLoss(GPU_SWARM_MODEL, state, dataset),
      committedHashes: rounds.map((r) => r.modelHash),
      excludedAttackers: attackers.filter((a) => excluded(relay).has(a.peerId)).length,
      honestInSync: honest.every(
        (v) => v.volunteer.held.hash === last.modelHash || v.volunteer.held.round < last.round,
      ),
    };
    return outcome;
  } finally {
    await relay.close();
  }
}

it('keeps the model honest under equivocation, a ×20 sign flip and three colluding identities', async () => {
  const clean = await scenario('clean', []);
  const rows: string[] = [`clean: validation loss ${clean.valLoss.toFixed(4)} after ${ROUNDS} rounds`];
  process.stdout.write(`${rows[0]}\n`);
  const attacks: [string, Attack[]][] = [
    ['equivocation (1 of 4)', [{ kind: 'equivocate' }]],
    ['sign flip x20 (1 of 4)', [{ kind: 'sign-flip', scale: 20 }]],
    ['three colluding identities (3 of 6)', [0, 1, 2].map(() => ({ kind: 'zero', lie: true }) as const)],
  ];
  for (const [name, attack] of attacks) {
    const outcome = await scenario(name.split(' ')[0] as string, attack);
    const gap = (100 * (outcome.valLoss - clean.valLoss)) / clean.valLoss;
    rows.push(`${name}: validation loss ${outcome.valLoss.toFixed(4)}, gap ${gap.toFixed(2)}%`);
    process.stdout.write(`${rows.at(-1)}\n`);
    expect(outcome.committedHashes).not.toContain('c0ffee'.repeat(10).padEnd(64, '0'));
    expect(outcome.honestInSync, name).toBe(true);
    if (name.startsWith('equivocation')) expect(outcome.excludedAttackers, name).toBe(1);
    expect(gap, name).toBeLessThan(MARGIN_PERCENT);
  }
}, 1_200_000);
