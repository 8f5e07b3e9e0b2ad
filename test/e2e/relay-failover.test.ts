// Three relays serve one run from one PostgreSQL (the one .ci/run starts), each its own process,
// with a headless volunteer connected to each; every round needs all three volunteers. The relay
// that leads the run is SIGKILLed mid-round, then one of the two left: each time its volunteer
// moves to another relay from the list its welcome carried, every volunteer is seated in a new
// round, and a round commits counting all three. At the end every receipt a volunteer holds is
// in the ledger exactly once, and the chain verifies through the API.
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type NodeVolunteer, startNodeVolunteer } from '../../web/node/node-volunteer.ts';
import type { VolunteerEvent } from '../../web/src/peer/volunteer.ts';
import { freshClusterDatabase, POSTGRES_URL } from '../helpers/cluster-database.ts';
import { auditLedger } from '../helpers/ledger-audit.ts';
import { roundsWithAll } from '../helpers/ledger-rounds.ts';
import { nodeContext } from '../helpers/node-context.ts';
import { freePort, killRelay, type RunningRelay, startRelayProcess } from '../helpers/relay-process.ts';
import { smallDataset, TEST_STAMP_BITS } from '../helpers/test-relay.ts';
import { memoryTuneCache } from '../helpers/tune-cache-memory.ts';

const MODEL = { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 1, nHead: 2 };

interface Health {
  committedRound: number;
  leading?: boolean;
  peers: number;
}

const relays: RunningRelay[] = [];
const volunteers: NodeVolunteer[] = [];
const cleanup: (() => Promise<unknown>)[] = [];
const figures: string[] = [];
const say = (line: string) => {
  figures.push(line);
  process.stdout.write(`${line}\n`);
};

afterAll(async () => {
  process.stdout.write(`relay failover:\n${figures.join('\n')}\n`);
  await Promise.all(volunteers.map((v) => v.stop()));
  await Promise.all(relays.map((r) => killRelay(r, 'SIGTERM')));
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

async function health(url: string): Promise<Health | null> {
  try {
    return (await (await fetch(`${url}/healthz`)).json()) as Health;
  } catch {
    return null; // a killed relay answers nothing
  }
}

describe.skipIf(!POSTGRES_URL)('relay failover', () => {
  it('loses no volunteer and no credit when a relay of three is SIGKILLed mid-round, twice', async () => {
    const db = await freshClusterDatabase();
    cleanup.push(() => db.dispose());
    const dataset = await smallDataset(8);
    const run = {
      dataset,
      model: MODEL,
      inner: { batchSize: 4, seqLen: 32, learningRate: 1e-2, warmupRounds: 0 },
      round: { innerSteps: 6, compression: { randomK: 0.5, topK: 0.5, bits: 4, blockSize: 64 } },
      identity: { stampBits: TEST_STAMP_BITS },
      // Every round needs all three: a round that commits after a kill is proof all came back.
      schedule: {
        minPeers: 3,
        gatherMs: 1_000,
        minRoundMs: 60_000,
        maxRoundMs: 60_000,
        hashTimeoutMs: 30_000,
      },
    };
    const dirs = await Promise.all([0, 1, 2].map(() => mkdtemp(join(tmpdir(), 'potluck-failover-'))));
    const runFile = join(dirs[0] as string, 'run.json');
    await writeFile(runFile, JSON.stringify(run));
    const start = async (dir: string) => {
      const port = await freePort();
      const args = ['--port', String(port), '--host', '127.0.0.1', '--state', dir, '--run', runFile];
      const relay = await startRelayProcess([...args, '--database-url', db.url], { timeoutMs: 120_000 });
      relays.push(relay);
      return relay;
    };
    // The first relay makes the key the others share: one ledger, one signer.
    const first = await start(dirs[0] as string);
    for (const dir of dirs.slice(1))
      await copyFile(join(dirs[0] as string, 'relay-key.pkcs8'), join(dir, 'relay-key.pkcs8'));
    const up = [first, await start(dirs[1] as string), await start(dirs[2] as string)];

    // A headless volunteer on each relay; `seated` records when each was last given a round.
    const seated = new Map<string, number>();
    const names = ['alpha', 'beta', 'gamma'];
    for (const [i, relay] of up.entries()) {
      const name = names[i] as string;
      const node = await startNodeVolunteer({
        relay: relay.url,
        name,
        stateDir: await mkdtemp(join(tmpdir(), `potluck-${name}-`)),
        ctx: await nodeContext(),
        tuneCache: memoryTuneCache(),
        onEvent: (event: VolunteerEvent) => {
          if (event.type === 'round' && event.phase === 'training') seated.set(name, Date.now());
          if (event.type === 'status' && process.env.POTLUCK_TEST_LOG)
            process.stderr.write(`${name} ${event.text}\n`);
        },
      });
      volunteers.push(node);
    }
    const keys = volunteers.map((v) => v.peerId);
    const survivor = () =>
      up.find((r) => r.child.exitCode === null && r.child.signalCode === null) as RunningRelay;
    const nextRoundWithAll = async (after: number, timeoutMs: number) => {
      let found: number[] = [];
      await expect
        .poll(
          async () => {
            found = await roundsWithAll(survivor().url, keys, after);
            return found.length;
          },
          { timeout: timeoutMs, interval: 500 },
        )
        .toBeGreaterThan(0);
      return found[0] as number;
    };
    let round = await nextRoundWithAll(-1, 400_000);
    say(`round ${round} committed with the volunteers of all three relays`);

    for (const victim of ['the leader', 'a follower'] as const) {
      // Into the next round: its assignments are out and the GPUs are training.
      await expect
        .poll(async () => (await health(survivor().url))?.committedRound ?? -1, { timeout: 60_000 })
        .toBeGreaterThanOrEqual(round);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const states = await Promise.all(up.map(async (r) => ({ relay: r, health: await health(r.url) })));
      const live = states.filter((s) => s.health);
      const target =
        victim === 'the leader'
          ? live.find((s) => s.health?.leading)
          : live.find((s) => !s.health?.leading && (s.health?.peers ?? 0) > 0);
      expect(target).toBeDefined();
      const before = Math.max(...live.map((s) => s.health?.committedRound ?? -1));
      await killRelay((target as { relay: RunningRelay }).relay);
      const killed = Date.now();

      // Every volunteer is given a round again (the orphan through another relay), and a round
      // commits counting all three.
      await expect
        .poll(() => names.every((n) => (seated.get(n) ?? 0) > killed), { timeout: 120_000, interval: 200 })
        .toBe(true);
      const reseated = Math.max(...names.map((n) => seated.get(n) as number));
      const next = await nextRoundWithAll(before, 300_000);
      say(
        `killed ${victim} with round ${before} committed: every volunteer seated again ` +
          `${((reseated - killed) / 1000).toFixed(1)} s after the kill; round ${next} committed with all three ` +
          `${((Date.now() - killed) / 1000).toFixed(1)} s after it`,
      );
      round = next;
    }

    // A volunteer whose relay died as its round committed never got that round's receipt (its
    // credit is in the ledger all the same); one more round with all three, then every receipt.
    round = await nextRoundWithAll(round, 300_000);
    // Receipts come after each commit: wait for those of the last round, then audit.
    for (const node of volunteers)
      await expect
        .poll(async () => (await node.store.receipts()).some((r) => r.entry.round === round), {
          timeout: 60_000,
        })
        .toBe(true);
    const held = (await Promise.all(volunteers.map((n) => n.store.receipts()))).flat();
    // Exactly once: no receipt twice, and each is in the chain, which verifies (audited there).
    expect(new Set(held.map((r) => r.entry.hash)).size).toBe(held.length);
    const entries = await auditLedger(survivor().url, held);
    const rounds = new Map<number, number>();
    for (const e of entries as { round: number; peerKey: string; kind: string }[])
      if (e.kind.startsWith('credit')) rounds.set(e.round, (rounds.get(e.round) ?? 0) + 1);
    // No round credited anyone twice: at most one credit per volunteer per round.
    expect(Math.max(...rounds.values())).toBeLessThanOrEqual(keys.length);
    say(
      `${held.length} receipts held, all in the verified ledger of ${entries.length} entries; last round ${round}`,
    );
  }, 1_100_000);
});
