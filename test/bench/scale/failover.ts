// bench:scale's failover: with a cluster's rounds running, the leading relay is SIGKILLed
// mid-round (once every volunteer holds its assignment of the round; whether one already had its
// commit is reported), as a power cut would. Its lease runs out, another relay takes the run over from PostgreSQL and
// carries its own volunteers' sessions over; the volunteers of the killed relay (the orphans)
// reconnect to another relay from their welcome's list on their own. Measured from the kill:
// until every orphan is seated again (an assignment reached it), until every volunteer is, and
// until a round commits with all of them; then whether any receipt held before the kill is
// missing from the ledger, and whether any credit is there twice.
import type { Receipt } from '../../../protocol/ledger-signatures.ts';
import type { ClusterSim } from './cluster-volunteer.ts';
import { checkCredits, readLedger } from './ledger-check.ts';
import type { RelayCluster } from './relay-cluster.ts';
import { waitUntil } from './wait-until.ts';

export interface Failover {
  /** Index of the relay killed (it led) and the round in progress then. */
  readonly killed: number;
  readonly round: number;
  /** Whether a volunteer had that round's commit before the kill (then the kill fell between rounds). */
  readonly committedBeforeKill: boolean;
  /** Volunteers connected to it at the kill. */
  readonly orphans: number;
  /** Seconds from the kill until a surviving relay said it leads. */
  readonly newLeaderSeconds: number | null;
  /** Until every orphan was welcomed by another relay, and had asked it for work (`ready`). */
  readonly orphansReconnectedSeconds: number | null;
  readonly orphansReadySeconds: number | null;
  /** Until every volunteer of the surviving relays had asked for work again (its round aborted). */
  readonly othersReadySeconds: number | null;
  /** Until every orphan had an assignment again: the failover time. Null if not all did in time. */
  readonly orphansSeatedSeconds: number | null;
  readonly orphansSeated: number;
  /** When not every orphan was seated: one such orphan's relays known and link status. */
  readonly unseatedOrphan: string | null;
  /** Until every volunteer had one. */
  readonly everyoneSeatedSeconds: number | null;
  /** Until every volunteer committed a round opened after the kill. */
  readonly everyoneCommittedSeconds: number | null;
  /** Distinct receipts the volunteers held at the kill, and of them not in the ledger after. */
  readonly receiptsAtKill: number;
  readonly creditsLost: number;
  /** Every receipt held at the end, and of them not in the ledger. */
  readonly receiptsAtEnd: number;
  readonly missingAtEnd: number;
  /** Credit entries beyond the first for one volunteer and round. */
  readonly doubledCredits: number;
  readonly ledgerEntries: number;
  readonly chainFailure: string | null;
}

const seconds = (ms: number) => ms / 1000;

async function heldReceipts(sims: readonly ClusterSim[]): Promise<Receipt[]> {
  return (await Promise.all(sims.map((s) => s.store.receipts()))).flat();
}

export async function failOver(
  cluster: RelayCluster,
  sims: readonly ClusterSim[],
  afterRound: number,
  timeoutMs: number,
): Promise<Failover> {
  // Mid-round: the next round's assignments are all out, and its frames are on their way.
  const round = afterRound + 1;
  const assignedNext = await waitUntil(
    () => sims.every((s) => s.assigned.some((a) => a.round === round)),
    timeoutMs,
  );
  if (!assignedNext) throw new Error(`round ${round} was not assigned to every volunteer in time`);
  const killed = await cluster.leader();
  const killedUrl = cluster.urls[killed] as string;
  const orphans = sims.filter((s) => s.relay() === killedUrl);
  // The receipts in memory are read in one turn of the event loop, then the kill: nothing
  // reaches a volunteer in between.
  const atKill = await heldReceipts(sims);
  const killedAt = Date.now();
  const relay = cluster.relays[killed];
  if (!relay) throw new Error(`no relay ${killed}`);
  await relay.kill();

  const newLeader: { at: number | null } = { at: null };
  const survivors = cluster.urls.map((_, i) => i).filter((i) => i !== killed);
  const leaderSeen = waitUntil(
    async () => {
      const healths = await Promise.all(survivors.map((i) => cluster.health(i)));
      if (!healths.some((h) => h?.leading)) return false;
      newLeader.at = Date.now();
      return true;
    },
    timeoutMs,
    100,
  );
  const seatedAt = (s: ClusterSim) => s.assigned.find((a) => a.at > killedAt)?.at ?? null;
  /** The last of `group` to reach what `at` finds after the kill, in ms from it; null if one has not. */
  const latest = (group: readonly ClusterSim[], at: (s: ClusterSim) => number | null = seatedAt) =>
    group.every((s) => at(s) !== null) ? Math.max(...group.map((s) => at(s) as number)) - killedAt : null;
  await waitUntil(() => orphans.every((s) => seatedAt(s) !== null), timeoutMs);
  const orphansSeatedMs = latest(orphans);
  await waitUntil(() => sims.every((s) => seatedAt(s) !== null), timeoutMs);
  const everyoneSeatedMs = latest(sims);
  await leaderSeen;
  const after = (times: readonly number[]) => times.find((t) => t > killedAt) ?? null;
  const orphansReconnectedMs = latest(orphans, (s) => after(s.welcomed));
  const othersReadyMs = latest(
    sims.filter((s) => !orphans.includes(s)),
    (s) => after(s.readies),
  );
  const orphansReadyMs = latest(orphans, (s) => {
    const welcome = after(s.welcomed);
    return welcome === null ? null : (s.readies.find((t) => t >= welcome) ?? null);
  });

  // A round opened after the kill, committed by everyone, and its receipts in hand.
  let everyoneCommittedMs: number | null = null;
  if (everyoneSeatedMs !== null) {
    const reopened = Math.max(...sims.map((s) => s.assigned.find((a) => a.at > killedAt)?.round as number));
    const done = await waitUntil(() => sims.every((s) => s.committed.has(reopened)), timeoutMs);
    if (done) {
      everyoneCommittedMs = Math.max(...sims.map((s) => s.committed.get(reopened)?.at as number)) - killedAt;
      await waitUntil(
        async () =>
          (await Promise.all(sims.map((s) => s.store.receipts()))).every((held) =>
            held.some((r) => r.entry.round === reopened),
          ),
        60_000,
        250,
      );
    }
  }
  const ledger = await readLedger(cluster.urls[survivors[0] as number] as string);
  const atEnd = await heldReceipts(sims);
  const before = checkCredits(ledger, atKill);
  const end = checkCredits(ledger, atEnd);
  const seatedOrphans = orphans.filter((s) => seatedAt(s) !== null).length;
  const unseated = orphans.find((s) => seatedAt(s) === null);
  return {
    killed,
    round,
    orphans: orphans.length,
    newLeaderSeconds: newLeader.at === null ? null : seconds(newLeader.at - killedAt),
    committedBeforeKill: sims.some(
      (s) => (s.committed.get(round)?.at ?? Number.POSITIVE_INFINITY) <= killedAt,
    ),
    orphansReconnectedSeconds: orphansReconnectedMs === null ? null : seconds(orphansReconnectedMs),
    orphansReadySeconds: orphansReadyMs === null ? null : seconds(orphansReadyMs),
    othersReadySeconds: othersReadyMs === null ? null : seconds(othersReadyMs),
    orphansSeatedSeconds: orphansSeatedMs === null ? null : seconds(orphansSeatedMs),
    orphansSeated: seatedOrphans,
    unseatedOrphan: unseated ? `knows ${unseated.known().join(', ')}; ${unseated.status()}` : null,
    everyoneSeatedSeconds: everyoneSeatedMs === null ? null : seconds(everyoneSeatedMs),
    everyoneCommittedSeconds: everyoneCommittedMs === null ? null : seconds(everyoneCommittedMs),
    receiptsAtKill: before.receipts,
    creditsLost: before.missing,
    receiptsAtEnd: end.receipts,
    missingAtEnd: end.missing,
    doubledCredits: end.doubled,
    ledgerEntries: ledger.entries.length,
    chainFailure: ledger.chainFailure,
  };
}
