// Which contributions the relay checks, and what a check's outcome does to credit
// (docs/ARCHITECTURE.md, "Verified credit"). BOINC's adaptive replication, with the relay as
// the second worker: a new identity is on probation and every contribution it makes is
// checked; once it has passed `probationRounds` checks, one contribution in
// 1/checkProbability is, drawn after the contribution is in, so no member can tell in advance
// which round it may skip. Credit is recorded provisional at the commit; a passed check
// settles the member's provisional credit as verified, a failed one forfeits it and bans the
// identity (a frame the starting state alone predicts is no evidence either way: nothing is
// settled), and an unanswered one forfeits it (maxUnansweredChecks in a row ban too: a member
// that cannot pass a check would otherwise just never answer). Settlements and bans go into
// the next round's ledger commit.
import { MAX_REASON } from '../../protocol/ledger-entry.ts';
import type { LocalState } from '../../protocol/local-state-file.ts';
import { decodeLocalState } from '../../protocol/local-state-file.ts';
import type { VerificationConfig } from '../../protocol/run-config.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { PendingCheckRecord } from './pending-check-record.ts';
import type { WorkToCheck, WorkVerdict } from './work-check.ts';

/** Checks waiting for a state or a redo, at most: a redo of the default model takes ~44 s. */
export const MAX_BACKLOG = 32;
/**
 * Of the backlog, the places only established members' sampled checks may take: new identities
 * (a crowd of them costs an attacker only stamps) can never hold all of it and leave the
 * members who passed probation unchecked.
 */
export const ESTABLISHED_RESERVE = 8;
/**
 * Checks an identity on probation may have open (asked, not yet judged) and still be seated: an
 * honest one answers within seconds and its redo may still run as the next round opens, while
 * one that answers nothing would otherwise hold a backlog place for each round until its answer
 * window closes (an outside attack held 18 of them with one identity, and new identities were
 * told there was no room to check them).
 */
export const MAX_OPEN_CHECKS_ON_PROBATION = 2;

export interface Settlement {
  readonly peerKey: string;
  readonly outcome: 'verified' | 'forfeited';
  readonly reason: string;
}

export interface Ban {
  readonly peerKey: string;
  readonly reason: string;
}

/** What the relay keeps of a contribution it asked to check, until the state arrives. */
export interface PendingCheck {
  readonly round: number;
  readonly peer: string;
  /** The hash the member's signed manifest gave for its starting state. */
  readonly stateHash: string;
  /** The assigned tokens [start, end) of the training split. */
  readonly shard: { readonly start: number; readonly end: number };
  /** Everything but the starting state, which the member uploads, and the tokens. */
  readonly work: Omit<WorkToCheck, 'start' | 'tokens'>;
}

export type RevealOutcome =
  | { readonly kind: 'accepted' }
  | {
      readonly kind: 'refused';
      readonly status: 400 | 404 | 409;
      readonly code: string;
      readonly message: string;
    };

export interface VerificationOptions {
  readonly config: VerificationConfig;
  readonly totalFloats: number;
  readonly clock: Clock;
  readonly log: Logger;
  /** Tokens [start, end) of the training split. */
  readonly trainTokens: (range: { start: number; end: number }) => Promise<ArrayLike<number>>;
  /** The CPU redo (work-check.ts), behind a function so it can run off the event loop. */
  readonly check: (work: WorkToCheck) => Promise<WorkVerdict>;
  /** Rounds each key passed a check in, from the ledger: probation survives a restart. */
  readonly verifiedRounds?: ReadonlyMap<string, number>;
  /** A key was banned: never seat it again. */
  readonly onBan: (ban: Ban) => void;
  /** Uniform [0, 1): which contributions outside probation are checked. */
  readonly random?: () => number;
  /** Where the checks asked for are kept until settled, so a relay that stops leaves them known. */
  readonly record?: Pick<PendingCheckRecord, 'add' | 'settled'>;
  /**
   * Checks a relay asked for and stopped before settling (pending-check-record.ts): they cannot
   * be done now, so their members' unsettled provisional credit is forfeited, without a ban.
   */
  readonly lost?: readonly { readonly peer: string; readonly round: number }[];
}

interface Standing {
  verified: number;
  unanswered: number;
}

export class Verification {
  private readonly standings = new Map<string, Standing>();
  private readonly pending = new Map<string, { check: PendingCheck; timer: unknown; deadline: number }>();
  private settlements: Settlement[] = [];
  private bans: Ban[] = [];
  /** What each settlement or ban unrecorded() handed out stands for (it merges a peer's). */
  private readonly covers = new WeakMap<Settlement | Ban, readonly (Settlement | Ban)[]>();
  private running: Promise<void> = Promise.resolve();
  /** Checks whose state arrived and that wait for, or are in, the redo, by peer. */
  private readonly judging = new Map<string, number>();

  constructor(private readonly options: VerificationOptions) {
    for (const [peer, verified] of options.verifiedRounds ?? [])
      this.standings.set(peer, { verified, unanswered: 0 });
    for (const { peer, round } of options.lost ?? [])
      this.settlements.push({
        peerKey: peer,
        outcome: 'forfeited',
        reason: ledgerReason(`round ${round}: its check was lost with the relay that asked for it`),
      });
  }

  /** Whether checks run at all: no probation and no sampling means every credit stays provisional. */
  get enabled(): boolean {
    const { probationRounds, checkProbability } = this.options.config;
    return probationRounds > 0 || checkProbability > 0;
  }

  onProbation(peer: string): boolean {
    return (this.standings.get(peer)?.verified ?? 0) < this.options.config.probationRounds;
  }

  /**
   * The members of a committed round whose contributions are checked, at most as many as the
   * backlog has room for (MAX_BACKLOG): a crowd of new identities cannot queue redos without
   * end. A contribution left unchecked keeps its credit provisional and its identity on
   * probation, so being skipped never verifies anything. `suspects` (members whose frame a
   * cheap screen flagged, such as a byte-for-byte copy of another member's) are checked
   * whatever their standing.
   */
  choose(counted: readonly string[], suspects: ReadonlySet<string> = new Set()): string[] {
    const random = this.options.random ?? Math.random;
    const wanted = counted.filter(
      (peer) =>
        this.onProbation(peer) || suspects.has(peer) || random() < this.options.config.checkProbability,
    );
    // Established members' samples first, then new identities in random order: a crowd of new
    // keys (or keys ground to sort first) cannot crowd out the checks that keep others honest;
    // new identities take no more than the room outside the established reserve.
    const order = new Map(wanted.map((peer) => [peer, random()]));
    const ranked = [...wanted].sort(
      (a, b) =>
        Number(this.onProbation(a)) - Number(this.onProbation(b)) ||
        (order.get(a) ?? 0) - (order.get(b) ?? 0),
    );
    const room = this.room();
    const established = ranked.filter((peer) => !this.onProbation(peer)).slice(0, room);
    const fresh = ranked
      .filter((peer) => this.onProbation(peer))
      .slice(0, Math.min(room - established.length, this.probationRoom()));
    if (established.length + fresh.length < wanted.length)
      this.options.log.warn(
        { wanted: wanted.length, room: this.room() },
        'work-check backlog full: some contributions go unchecked',
      );
    return [...established, ...fresh];
  }

  /** Checks of `peer` asked and not yet judged: waiting for its state, or in the redo. */
  openChecks(peer: string): number {
    let open = this.judging.get(peer) ?? 0;
    for (const { check } of this.pending.values()) if (check.peer === peer) open++;
    return open;
  }

  /** How many more checks the backlog takes. */
  room(): number {
    let judging = 0;
    for (const n of this.judging.values()) judging += n;
    return Math.max(0, MAX_BACKLOG - this.pending.size - judging);
  }

  /**
   * How many more checks of identities on probation the backlog takes: the room less the
   * established reserve. The coordinator seats no more identities on probation than this (every
   * contribution of one is checked; one it could not check would earn unchecked credit).
   */
  probationRoom(): number {
    return Math.max(0, this.room() - ESTABLISHED_RESERVE);
  }

  /** Waits for the members' starting states; the deadline counts for those that never come. */
  expect(checks: readonly PendingCheck[]): void {
    const { clock, config } = this.options;
    for (const check of checks) {
      const key = keyOf(check.peer, check.round);
      const timer = clock.setTimeout(() => this.unanswered(key), config.revealMs);
      this.pending.set(key, { check, timer, deadline: clock.now() + config.revealMs });
      this.options.record?.add(check.peer, check.round);
    }
  }

  /** A member's starting state for a checked round (HTTP upload). */
  async reveal(peer: string, round: number, bytes: Uint8Array): Promise<RevealOutcome> {
    const key = keyOf(peer, round);
    const entry = this.pending.get(key);
    if (!entry)
      return {
        kind: 'refused',
        status: 404,
        code: 'ERR_NO_CHECK',
        message: `no check of round ${round} awaits this peer`,
      };
    if ((await sha256Hex(bytes)) !== entry.check.stateHash)
      return {
        kind: 'refused',
        status: 409,
        code: 'ERR_STATE_HASH',
        message: 'this is not the starting state the signed manifest named',
      };
    if (!this.pending.delete(key)) return { kind: 'accepted' };
    this.options.clock.clearTimeout(entry.timer);
    const start = decodeLocalState(bytes, this.options.totalFloats);
    if (!start) {
      // The very bytes its signed manifest committed to, and they are no state of this model:
      // the member had none to give, which is a failed check, not a retry.
      this.forfeitAndBan(peer, `round ${round}: its committed starting state is not a state of this model`);
      return {
        kind: 'refused',
        status: 400,
        code: 'ERR_STATE_FORMAT',
        message: 'not a local state of this model',
      };
    }
    this.judging.set(peer, (this.judging.get(peer) ?? 0) + 1);
    this.running = this.running
      .then(() => this.judge(entry.check, start))
      .finally(() => {
        const left = (this.judging.get(peer) ?? 1) - 1;
        if (left > 0) this.judging.set(peer, left);
        else this.judging.delete(peer);
      });
    return { kind: 'accepted' };
  }

  /** Checks that wait for this member's state: re-sent when it connects again (a reload). */
  awaiting(peer: string): { round: number; deadline: number }[] {
    return [...this.pending.values()]
      .filter(({ check }) => check.peer === peer)
      .map(({ check, deadline }) => ({ round: check.round, deadline }));
  }

  /**
   * Settlements and bans for the next commit, at most one of each per peer (the ledger takes
   * no more; a commit it refused would be refused again every round). A peer with a check
   * still waiting for its state or its redo is held back until all are in, and then a forfeit
   * among its outcomes wins: a passed check must not settle as verified the credit of a round
   * whose own check is still out (a member alternating honest and free rounds would bank the
   * free ones). `recorded()` after the commit holds them.
   */
  unrecorded(): { settlements: readonly Settlement[]; bans: readonly Ban[] } {
    const byPeer = new Map<string, Settlement[]>();
    for (const s of this.settlements) {
      if (this.awaiting(s.peerKey).length > 0 || this.judging.has(s.peerKey)) continue;
      byPeer.set(s.peerKey, [...(byPeer.get(s.peerKey) ?? []), s]);
    }
    const settlements = [...byPeer.values()].map((list) => {
      const one = list.find((s) => s.outcome === 'forfeited') ?? (list.at(-1) as Settlement);
      const merged = { ...one };
      this.covers.set(merged, list);
      return merged;
    });
    const bansByPeer = new Map<string, Ban[]>();
    for (const b of this.bans) bansByPeer.set(b.peerKey, [...(bansByPeer.get(b.peerKey) ?? []), b]);
    const bans = [...bansByPeer.values()].map((list) => {
      const merged = { ...(list[0] as Ban) };
      this.covers.set(merged, list);
      return merged;
    });
    return { settlements, bans };
  }

  /** The commit holding `recorded` (what unrecorded() gave) succeeded: they are the ledger's now. */
  recorded(recorded: { settlements: readonly Settlement[]; bans: readonly Ban[] }): void {
    const done = new Set<Settlement | Ban>(
      [...recorded.settlements, ...recorded.bans].flatMap((x) => this.covers.get(x) ?? [x]),
    );
    this.settlements = this.settlements.filter((s) => !done.has(s));
    this.bans = this.bans.filter((b) => !done.has(b));
    for (const settled of new Set(recorded.settlements.map((s) => s.peerKey)))
      this.options.record?.settled(settled);
  }

  /** Resolves when the checks started so far are judged (tests, shutdown). */
  idle(): Promise<void> {
    return this.running;
  }

  close(): void {
    for (const { timer } of this.pending.values()) this.options.clock.clearTimeout(timer);
    this.pending.clear();
  }

  private async judge(check: PendingCheck, start: LocalState): Promise<void> {
    const { log } = this.options;
    let verdict: WorkVerdict;
    try {
      const tokens = await this.options.trainTokens(check.shard);
      verdict = await this.options.check({ ...check.work, start, tokens });
    } catch (error) {
      // The relay's own failure is no evidence against the member: nothing is settled.
      log.error({ round: check.round, peer: check.peer, err: error }, 'a work check failed to run');
      return;
    }
    const standing = this.standing(check.peer);
    if (verdict.ok) {
      standing.verified++;
      standing.unanswered = 0;
      this.settlements.push({
        peerKey: check.peer,
        outcome: 'verified',
        reason: `round ${check.round} checked`,
      });
      log.info({ round: check.round, peer: check.peer, agreement: verdict.agreement }, 'work check passed');
      return;
    }
    if (verdict.inconclusive) {
      // A state whose frame the work hardly changes: no evidence the work was done, and an
      // honest state never comes close (its frames follow the work on several percent of their
      // values even at H = 3). Settled as a check without evidence: credit forfeited, probation.
      this.withoutEvidence(check.peer, `round ${check.round}: ${verdict.reason}`);
      return;
    }
    const reason = `round ${check.round}: ${verdict.reason}`;
    log.warn(
      { round: check.round, peer: check.peer, reason },
      'work check failed: credit forfeited, key banned',
    );
    this.forfeitAndBan(check.peer, reason);
  }

  private unanswered(key: string): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    this.pending.delete(key);
    const { peer, round } = entry.check;
    this.withoutEvidence(peer, `round ${round}: the starting state was not uploaded in time`);
  }

  /**
   * A check that shows no work, unanswered or inconclusive: the member's provisional credit is
   * forfeited and it is back on probation (every contribution checked); maxUnansweredChecks
   * such checks in a row ban it.
   */
  private withoutEvidence(peer: string, reason: string): void {
    const standing = this.standing(peer);
    standing.unanswered++;
    standing.verified = 0;
    this.options.log.warn(
      { peer, reason, inARow: standing.unanswered },
      'work check without evidence of work',
    );
    if (standing.unanswered >= this.options.config.maxUnansweredChecks)
      this.forfeitAndBan(
        peer,
        `${standing.unanswered} checks in a row without evidence of work (last: ${reason})`,
      );
    else this.settlements.push({ peerKey: peer, outcome: 'forfeited', reason: ledgerReason(reason) });
  }

  private forfeitAndBan(peer: string, reason: string): void {
    this.settlements.push({ peerKey: peer, outcome: 'forfeited', reason: ledgerReason(reason) });
    const ban = { peerKey: peer, reason: ledgerReason(reason) };
    this.bans.push(ban);
    this.standing(peer).verified = 0;
    for (const [key, { timer, check }] of this.pending)
      if (check.peer === peer) {
        this.options.clock.clearTimeout(timer);
        this.pending.delete(key);
      }
    this.options.onBan(ban);
  }

  private standing(peer: string): Standing {
    let standing = this.standings.get(peer);
    if (!standing) {
      standing = { verified: 0, unanswered: 0 };
      this.standings.set(peer, standing);
    }
    return standing;
  }
}

/**
 * A reason as the ledger takes it (protocol/ledger-entry.ts ReasonText): no '|', at most
 * MAX_REASON characters. A longer one would fail the whole round's commit.
 */
function ledgerReason(text: string): string {
  let out = '';
  // Whole code points only: a cut surrogate pair would be refused too.
  for (const ch of text.replaceAll('|', '/').replaceAll('\0', '')) {
    if (out.length + ch.length > MAX_REASON) break;
    out += ch;
  }
  return out;
}

function keyOf(peer: string, round: number): string {
  return `${round}:${peer}`;
}
