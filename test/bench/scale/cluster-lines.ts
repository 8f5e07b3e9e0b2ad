// What bench:scale prints for its rows with several relays: one line per row, one for its
// failover, and the comparison with the goals and the anchors the issue named (a PeerJS
// server's ~5,000-connection ceiling in one process; BOINC's project servers, several daemons
// on one MySQL database).
import type { ClusterRow } from './cluster-row.ts';
import type { Failover } from './failover.ts';

/** A row that could not be measured, with why. */
export interface FailedRow {
  readonly volunteers: number;
  readonly relays: number;
  readonly error: string;
}

const ms = (x: number) => `${Math.round(x).toLocaleString('en-US')} ms`;
const seconds = (x: number | null) => (x === null ? 'never (timed out)' : `${x.toFixed(1)} s`);
const count = (x: number) => x.toLocaleString('en-US');

export function clusterLine(row: ClusterRow, elapsedSeconds: number): string {
  const cpu = row.relayCpuSecondsPerRound
    .map((s, i) => `${s.toFixed(2)}${i === row.leader ? ' (leader)' : ''}`)
    .join(' / ');
  const postgres =
    row.postgresCpuSecondsPerRound === null
      ? 'PostgreSQL not on this machine'
      : `PostgreSQL ${row.postgresCpuSecondsPerRound.toFixed(2)} s (the whole server)`;
  return (
    `${String(row.volunteers).padStart(5)} volunteers on ${row.relays} relays, one PostgreSQL (a small model: ${row.modelFloats} floats, frame ${row.frameBytes} bytes): ` +
    `seated ${(100 * row.seatedFraction).toFixed(1)}%, ready→assignment p50 ${ms(row.p50ReadyToAssignmentMs)}, p99 ${ms(row.p99ReadyToAssignmentMs)} ` +
    `(from the round's last ready; gatherMs ${row.gatherMs}), open→assignment p50 ${ms(row.p50OpenToAssignmentMs)}, p99 ${ms(row.p99OpenToAssignmentMs)}, ` +
    `round ${row.roundSeconds.toFixed(2)} s wall; CPU per round: relays ${cpu} s, ${postgres}, the volunteers (this process) ${row.benchCpuSecondsPerRound.toFixed(2)} s; ` +
    `all joined in ${row.joinSeconds.toFixed(0)} s, ${count(row.knowEveryRelay)} told of every relay (${elapsedSeconds.toFixed(0)} s)\n` +
    row.rounds
      .map(
        (r, i) =>
          `    round ${r.round}: ${(row.roundsSeconds[i] as number).toFixed(1)} s, ready→assignment p50 ${ms(r.p50ReadyToAssignmentMs)}, p99 ${ms(r.p99ReadyToAssignmentMs)}, ` +
          `of which the last ready to the opening ${ms(r.lastReadyToOpenMs)}; open→assignment p99 ${ms(r.p99OpenToAssignmentMs)}; opened ${r.openings === 1 ? 'once' : `${r.openings} times`}`,
      )
      .join('\n')
  );
}

export function failedLine(row: FailedRow, elapsedSeconds: number): string {
  return `${String(row.volunteers).padStart(5)} volunteers on ${row.relays} relays, one PostgreSQL: FAILED: ${row.error} (${elapsedSeconds.toFixed(0)} s)`;
}

export function failoverLine(row: ClusterRow, f: Failover): string {
  const when = f.committedBeforeKill ? 'just after its commit' : 'mid-round';
  const chain = f.chainFailure === null ? 'the chain verifies' : `the chain fails: ${f.chainFailure}`;
  return (
    `  failover at ${count(row.volunteers)}: SIGKILL of the leading relay (relay ${f.killed}) in round ${f.round} (${when}), ${count(f.orphans)} volunteers orphaned: ` +
    `a surviving relay led after ${seconds(f.newLeaderSeconds)}; every orphan reconnected after ${seconds(f.orphansReconnectedSeconds)} and asked for work after ${seconds(f.orphansReadySeconds)}, ` +
    `every volunteer of the surviving relays asked again after ${seconds(f.othersReadySeconds)}; ` +
    `every orphan seated again after ${seconds(f.orphansSeatedSeconds)} (${count(f.orphansSeated)} of ${count(f.orphans)}), every volunteer after ${seconds(f.everyoneSeatedSeconds)}, ` +
    `a round committed by all after ${seconds(f.everyoneCommittedSeconds)}; ` +
    (f.unseatedOrphan === null ? '' : `an orphan not seated: ${f.unseatedOrphan}; `) +
    `credits lost: ${f.creditsLost} of ${count(f.receiptsAtKill)} receipts held at the kill (${f.missingAtEnd} of ${count(f.receiptsAtEnd)} held at the end missing, ` +
    `${f.doubledCredits} credits doubled; ${chain}, ${count(f.ledgerEntries)} entries)`
  );
}

/** The goals against the largest row asked for, and the largest row served. */
export function goalsLine(rows: readonly (ClusterRow | FailedRow)[]): string {
  const largest = rows.reduce((a, r) => (r.volunteers > a.volunteers ? r : a));
  const served = rows.filter((r): r is ClusterRow => !('error' in r));
  const best = served.reduce<ClusterRow | null>((a, r) => (a && a.volunteers >= r.volunteers ? a : r), null);
  const withFailover = served.filter((r) => r.failover !== null).at(-1);
  const failover = withFailover?.failover
    ? ` failover at ${count(withFailover.volunteers)}: ${seconds(withFailover.failover.orphansSeatedSeconds)} (goal under 10 s), ${withFailover.failover.creditsLost} credits lost (goal 0);`
    : '';
  const goal =
    'error' in largest
      ? `${largest.relays} relays on one PostgreSQL did not serve ${count(largest.volunteers)} volunteers on this machine (the goal: 3,000 with p99 ready→assignment under 2 s);` +
        (best
          ? ` the largest served: ${count(best.volunteers)}, p99 ready→assignment ${ms(best.p99ReadyToAssignmentMs)};`
          : '')
      : `${largest.relays} relays on one PostgreSQL served ${count(largest.volunteers)} volunteers (${count(Math.ceil(largest.volunteers / largest.relays))} connections each), ` +
        `p99 ready→assignment ${ms(largest.p99ReadyToAssignmentMs)} (goal under 2,000 ms at 3,000);`;
  return `${goal}${failover} anchors: a PeerJS server's ceiling of ~5,000 connections in one process; BOINC's project servers, several daemons on one MySQL database`;
}
