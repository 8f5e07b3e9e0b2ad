// Rounds through a real relay on loopback with real WebSocket clients speaking /swarm:
// volunteers are credited what the relay assigned, receipts verify against the relay's key
// and the public ledger, a silent peer never holds a round past its deadline, and shards are
// not handed out twice in an epoch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Receipt, verifyReceipt } from '../../../protocol/ledger-signatures.ts';
import type { RelayHandle } from '../../../relay/server.ts';
import { type ScriptedVolunteer, startScriptedVolunteer } from '../../helpers/scripted-volunteer.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';

let dataset = '';
beforeAll(async () => {
  dataset = await smallDataset();
});

async function withRelay(
  overrides: Record<string, unknown>,
  body: (relay: RelayHandle) => Promise<void>,
): Promise<void> {
  const relay = await startTestRelay(dataset, { overrides });
  try {
    await body(relay);
  } finally {
    await relay.close();
  }
}

describe('rounds over /swarm', () => {
  const volunteers: ScriptedVolunteer[] = [];
  afterAll(() => {
    for (const v of volunteers) v.close();
  });

  it('commits rounds, credits 6 x parameters x assigned tokens, and sends verifiable receipts', async () => {
    await withRelay({}, async (relay) => {
      const a = await startScriptedVolunteer(relay.url, 'alice');
      const b = await startScriptedVolunteer(relay.url, 'bob', { tokensPerSec: 2000, trainMs: 60 });
      volunteers.push(a, b);
      await Promise.all([a.commits(3), b.commits(3)]);
      expect(a.held.hash).toBe(b.held.hash);
      expect(a.held.round).toBeGreaterThanOrEqual(2);

      const { run } = relay;
      const { batchSize, seqLen } = run.config.inner;
      const assignments = [...a.messages, ...b.messages].filter((m) => m.type === 'assignment');
      // bob claimed twice alice's speed; claims size nothing: both start at H, and later
      // shares follow what the relay measured (bob takes 60 ms longer each round).
      const first = assignments.find((m) => m.type === 'assignment' && m.group.length === 2);
      if (first?.type !== 'assignment') throw new Error('no round with both of them');
      const H = run.config.round.innerSteps;
      expect(first.group.map((m) => m.innerSteps)).toEqual([H, H]);

      // Receipts come after their commit: every one held now must already be in the ledger.
      const held = [...a.receipts, ...b.receipts];
      const ledger = (await (await relay.app.request('/api/ledger?after=0')).json()) as {
        relayKey: string;
        entries: { peerKey: string; round: number; tokens: number; flops: string }[];
      };
      expect(ledger.entries.length).toBeGreaterThanOrEqual(6);
      for (const entry of ledger.entries) {
        const assigned = assignments.find(
          (m) =>
            m.type === 'assignment' &&
            m.round === entry.round &&
            m.shard &&
            m.group.some((g) => g.peer === entry.peerKey),
        );
        if (assigned?.type !== 'assignment') throw new Error(`no assignment behind ${entry.round}`);
        const innerSteps = assigned.group.find((g) => g.peer === entry.peerKey)?.innerSteps as number;
        expect(entry.tokens).toBe(innerSteps * batchSize * seqLen);
        expect(BigInt(entry.flops)).toBe(6n * BigInt(run.paramCount) * BigInt(entry.tokens));
      }
      expect(a.receipts.length).toBeGreaterThanOrEqual(3);
      for (const receipt of held) {
        expect(await verifyReceipt(receipt as Receipt, ledger.relayKey)).toBe(true);
        const { entry } = receipt as Receipt;
        expect(ledger.entries.find((e) => (e as { hash?: string }).hash === entry.hash)).toEqual(entry);
      }
      const board = (await (await relay.app.request('/api/leaderboard')).json()) as {
        rows: { publicKey: string; name: string; tokens: number; gpuMs: number; rounds: number }[];
      };
      expect(board.rows.map((r) => r.name).sort()).toEqual(['alice', 'bob']);
      // GPU time is what the relay saw (assignment to upload), not a claim: bob takes 60 ms.
      const bobRow = board.rows.find((r) => r.name === 'bob');
      expect(bobRow?.gpuMs).toBeGreaterThanOrEqual(60 * (bobRow?.rounds ?? 1));
    });
  });

  it('does not wait past the deadline for a peer that stops answering, nor credit it', async () => {
    await withRelay({}, async (relay) => {
      const good = await startScriptedVolunteer(relay.url, 'good');
      const mute = await startScriptedVolunteer(relay.url, 'mute', { silentAt: 'assignment' });
      volunteers.push(good, mute);
      const started = Date.now();
      await good.commits(1);
      const elapsed = Date.now() - started;
      const { schedule } = relay.run.config;
      expect(elapsed).toBeLessThan(schedule.gatherMs + schedule.maxRoundMs + schedule.hashTimeoutMs + 2_000);
      const ledger = (await (await relay.app.request('/api/ledger')).json()) as {
        entries: { peerKey: string }[];
      };
      expect(ledger.entries.every((e) => e.peerKey !== mute.identity.publicKey)).toBe(true);
      // Its unused shard went back to the pool: the next round hands that range out again.
      const muteShard = mute.messages.find((m) => m.type === 'assignment');
      if (muteShard?.type !== 'assignment') throw new Error('the mute peer got no assignment');
      await good.commits(3);
      const reassigned = good.messages.some(
        (m) => m.type === 'assignment' && m.shard.start === muteShard.shard.start,
      );
      expect(reassigned).toBe(true);
    });
  });

  it('does not wait for a peer that vanishes after the decision, and a liar changes nothing', async () => {
    await withRelay({}, async (relay) => {
      const peers = await Promise.all(['p1', 'p2', 'p3'].map((n) => startScriptedVolunteer(relay.url, n)));
      const liar = await startScriptedVolunteer(relay.url, 'liar', { liar: true });
      const quitter = await startScriptedVolunteer(relay.url, 'quitter', { silentAt: 'decision' });
      volunteers.push(...peers, liar, quitter);
      setTimeout(() => quitter.client.close(), 200);
      await Promise.all(peers.map((p) => p.commits(2)));
      expect(new Set(peers.map((p) => p.held.hash)).size).toBe(1);
      // The liar reported another hash: the relay committed what it computed, and counted the lie.
      await expect
        .poll(async () => (await relay.run.summary()).hashDisagreements, { timeout: 30_000 })
        .toBeGreaterThan(0);
      expect(relay.run.coordinator.lastCommitted.modelHash).toBe(peers[0]?.held.hash);
    });
  });

  it('hands out disjoint token ranges until the epoch is used up', async () => {
    await withRelay({ round: { innerSteps: 200 }, inner: { batchSize: 16 } }, async (relay) => {
      const peers = await Promise.all(['e1', 'e2'].map((n) => startScriptedVolunteer(relay.url, n)));
      volunteers.push(...peers);
      const total = relay.run.dataset.manifest.splits.train.tokens;
      let epochDone = false;
      for (let n = 1; !epochDone && n < 40; n++) {
        await Promise.all(peers.map((p) => p.commits(n)));
        epochDone = relay.run.pool.epoch > 0;
      }
      const assigned = peers
        .flatMap((p) => p.messages)
        .flatMap((m) => (m.type === 'assignment' ? [{ round: m.round, ...m.shard }] : []))
        .sort((x, y) => x.round - y.round || x.start - y.start);
      // In round order, ranges never overlap until the epoch wraps; by then (nearly) the whole
      // split was handed out: only tails shorter than one step's windows are left.
      const covered: { start: number; end: number }[] = [];
      for (const range of assigned) {
        if (covered.some((c) => range.start < c.end && c.start < range.end)) break;
        covered.push(range);
      }
      const coveredTokens = covered.reduce((sum, r) => sum + r.end - r.start, 0);
      const { batchSize, seqLen } = relay.run.config.inner;
      expect(coveredTokens).toBeGreaterThan(total - 2 * (batchSize * seqLen + 1));
      expect(coveredTokens).toBeLessThanOrEqual(total);
    });
  });
});
