// Credit in bench:byzantine as the relay keeps it (docs/ARCHITECTURE.md, "Verified credit"):
// each committed round credits its counted members their assigned tokens as provisional; the
// relay's own Verification (relay/rounds/verification.ts) chooses which contributions to check
// (every one of an identity on probation, one in ten after), and the relay's own work check
// (relay/rounds/work-check.ts) redoes each chosen round on the CPU from the member's starting
// state and compares frames. A pass settles the identity's provisional credit as verified; a
// fail forfeits it, bans the identity and voids its verified credit. A banned attacker comes
// back under a new identity (paying the identity stamp, which bench:identity prices), so every
// round has its f attackers, each on probation.
//
// Attackers do not train, so the starting state they reveal is a fresh one (zero moments and
// residual): the state a free-rider has. Honest peers reveal the state they started the round
// from, read off their GPU.
//
// Verdicts are cached so that scenarios replaying cached frames need no GPU state: an honest
// peer's verdict is keyed by the chain of committed states it trained through (which fixes its
// frame and its state), an attacker's by the state, its slot, round and frame.
import type { LocalState } from '../../../protocol/local-state-file.ts';
import { encodeLocalState } from '../../../protocol/local-state-file.ts';
import { deriveSeed } from '../../../protocol/random-k.ts';
import { createRng } from '../../../protocol/rng.ts';
import type { FrameExpectation } from '../../../protocol/round-update.ts';
import { innerLearningRate, type RunConfig } from '../../../protocol/run-config.ts';
import { sha256Hex } from '../../../protocol/sha256.ts';
import { ManualClock } from '../../../relay/clock.ts';
import { silentLogger } from '../../../relay/logger.ts';
import { type PendingCheck, Verification } from '../../../relay/rounds/verification.ts';
import { checkWork, type WorkToCheck, type WorkVerdict } from '../../../relay/rounds/work-check.ts';

export type Role = 'honest' | 'attacker';

/** One contribution the relay counted and credited. */
export interface CreditedMember {
  /** The member's seat in the bench (peer-000 ...): its data, noise stream and role. */
  readonly slot: string;
  readonly role: Role;
  readonly noiseStream: number;
  /** Assigned (not weighted) tokens: what the credit is. */
  readonly tokens: number;
  readonly innerSteps: number;
  readonly range: { readonly start: number; readonly end: number };
  readonly frame: Uint8Array;
  /** Honest peers' starting state when they trained this round; null when frames were replayed. */
  readonly start: LocalState | null;
}

export interface CreditTotals {
  readonly honestVerified: number;
  /** Honest credit not (yet) checked: neither verified nor lost. */
  readonly honestProvisional: number;
  readonly honestForfeited: number;
  readonly attackerVerified: number;
  readonly attackerProvisional: number;
  readonly attackerForfeited: number;
  /** Identities banned over the run (attackers' and, if ever, honest ones'). */
  readonly attackerBans: number;
  readonly honestBans: number;
  /** Tokens of contributions redone, and of all credited ones. */
  readonly checkedTokens: number;
  readonly creditedTokens: number;
  /** Seconds the redos took (cached verdicts cost none). */
  readonly checkSeconds: number;
}

export interface CreditBookOptions {
  readonly run: RunConfig;
  readonly seed: number;
  readonly totalFloats: number;
  readonly trainTokens: Uint16Array;
  /** Shared by every scenario of a bench run. */
  readonly verdicts: Map<string, WorkVerdict>;
}

/** Thrown when a replayed round needs an honest verdict no trained run computed. */
export class VerdictNotCached extends Error {}

interface Account {
  readonly role: Role;
  provisional: number;
  verified: number;
  forfeited: number;
}

export class CreditBook {
  private readonly verification: Verification;
  private readonly accounts = new Map<string, Account>();
  /** Times each slot's identity was banned: its current identity's generation. */
  private readonly generation = new Map<string, number>();
  /** Cache key of each frame a check is about (the check callback sees only the work). */
  private readonly keys = new Map<Uint8Array, string>();
  private rng = createRng(0);
  private bans = { honest: 0, attacker: 0 };
  private checkedTokens = 0;
  private creditedTokens = 0;
  private checkSeconds = 0;

  constructor(private readonly options: CreditBookOptions) {
    this.verification = new Verification({
      config: options.run.verification,
      totalFloats: options.totalFloats,
      clock: new ManualClock(),
      log: silentLogger,
      trainTokens: async ({ start, end }) => options.trainTokens.subarray(start, end),
      check: async (work) => this.check(work),
      onBan: ({ peerKey }) => this.banned(peerKey),
      random: () => this.rng.nextFloat(),
    });
  }

  /** The identity a slot has now: a banned attacker's slot comes back under a new one. */
  identity(slot: string): string {
    const g = this.generation.get(slot) ?? 0;
    return g === 0 ? slot : `${slot}~${g}`;
  }

  onProbation(slot: string): boolean {
    return this.verification.onProbation(this.identity(slot));
  }

  /** The weight the relay gives a contribution in the aggregate. */
  weight(slot: string, tokens: number): number {
    return this.onProbation(slot)
      ? Math.max(1, Math.round(tokens * this.options.run.verification.probationWeight))
      : tokens;
  }

  /**
   * Round `expected.round` committed from θ_r (`weights`): credit the counted members, check
   * the ones Verification chooses, settle. `chain` names the states the honest peers trained
   * through. Throws VerdictNotCached (before changing anything) when a replayed honest peer
   * is chosen and no trained run judged it.
   */
  async committed(
    expected: FrameExpectation,
    weights: Float32Array,
    weightsHash: string,
    members: readonly CreditedMember[],
    chain: string,
  ): Promise<void> {
    const { round } = expected;
    // The same draws for the same honest standings, whatever the attackers do.
    this.rng = createRng(deriveSeed(this.options.seed ^ CHECK_SALT, round));
    const bySlot = new Map(members.map((m) => [this.identity(m.slot), m]));
    const chosen = this.verification.choose([...bySlot.keys()]).map((id) => bySlot.get(id) as CreditedMember);
    const keyed = await Promise.all(
      chosen.map(async (m) => ({ member: m, key: await this.verdictKey(m, chain, weightsHash, round) })),
    );
    for (const { member, key } of keyed)
      if (member.role === 'honest' && member.start === null && !this.options.verdicts.has(key))
        throw new VerdictNotCached(`round ${round}: ${member.slot} was not judged under this chain`);

    for (const m of members) {
      const account = this.account(this.identity(m.slot), m.role);
      account.provisional += m.tokens;
      this.creditedTokens += m.tokens;
    }
    for (const { member, key } of keyed) {
      const identity = this.identity(member.slot);
      // What the member reveals: its real starting state, or (attackers) a fresh one. A replayed
      // honest peer's verdict is cached, so any state of the right shape stands in for its bytes.
      const bytes = encodeLocalState(member.start ?? this.freshState(round));
      this.keys.set(member.frame, key);
      const check: PendingCheck = {
        round,
        peer: identity,
        stateHash: await sha256Hex(bytes),
        shard: member.range,
        work: {
          config: this.options.run,
          expected,
          weights,
          innerSteps: member.innerSteps,
          learningRate: innerLearningRate(this.options.run, round),
          noiseStream: member.noiseStream,
          frame: member.frame,
        },
      };
      this.verification.expect([check]);
      const outcome = await this.verification.reveal(identity, round, bytes);
      if (outcome.kind === 'refused')
        throw new Error(`${identity}: the bench's reveal was refused: ${outcome.message}`);
      await this.verification.idle();
      this.checkedTokens += member.tokens;
    }
    this.settle();
  }

  totals(): CreditTotals {
    const sum = (role: Role, field: 'provisional' | 'verified' | 'forfeited') =>
      [...this.accounts.values()].filter((a) => a.role === role).reduce((s, a) => s + a[field], 0);
    return {
      honestVerified: sum('honest', 'verified'),
      honestProvisional: sum('honest', 'provisional'),
      honestForfeited: sum('honest', 'forfeited'),
      attackerVerified: sum('attacker', 'verified'),
      attackerProvisional: sum('attacker', 'provisional'),
      attackerForfeited: sum('attacker', 'forfeited'),
      attackerBans: this.bans.attacker,
      honestBans: this.bans.honest,
      checkedTokens: this.checkedTokens,
      creditedTokens: this.creditedTokens,
      checkSeconds: this.checkSeconds,
    };
  }

  private check(work: WorkToCheck): WorkVerdict {
    const key = this.keys.get(work.frame);
    const cached = key === undefined ? undefined : this.options.verdicts.get(key);
    if (cached) return cached;
    const started = performance.now();
    const verdict = checkWork(work);
    this.checkSeconds += (performance.now() - started) / 1000;
    if (key !== undefined) this.options.verdicts.set(key, verdict);
    return verdict;
  }

  /** The relay's settlements, applied to the accounts as its ledger would. */
  private settle(): void {
    const unrecorded = this.verification.unrecorded();
    for (const { peerKey, outcome } of unrecorded.settlements) {
      const account = this.accounts.get(peerKey);
      if (!account) continue;
      if (outcome === 'verified') account.verified += account.provisional;
      else account.forfeited += account.provisional;
      account.provisional = 0;
    }
    this.verification.recorded(unrecorded);
  }

  private banned(identity: string): void {
    const slot = identity.split('~')[0] as string;
    const account = this.accounts.get(identity);
    const role = account?.role ?? 'attacker';
    this.bans[role]++;
    // A ban voids the verified credit the identity held in the run (relay/ledger/settlement.ts).
    if (account) {
      account.forfeited += account.verified;
      account.verified = 0;
    }
    // A banned honest peer would be gone for good; the bench keeps it, counted, to show it.
    if (role === 'attacker') this.generation.set(slot, (this.generation.get(slot) ?? 0) + 1);
  }

  private async verdictKey(
    m: CreditedMember,
    chain: string,
    weightsHash: string,
    round: number,
  ): Promise<string> {
    return m.role === 'honest'
      ? `honest|${chain}|${m.slot}`
      : `attacker|${weightsHash}|${m.slot}|${round}|${m.innerSteps}|${await sha256Hex(m.frame)}`;
  }

  private freshState(round: number): LocalState {
    const n = this.options.totalFloats;
    return {
      m: new Float32Array(n),
      v: new Float32Array(n),
      residual: new Float32Array(n),
      step: 0,
      round: round - 1,
    };
  }

  private account(identity: string, role: Role): Account {
    let account = this.accounts.get(identity);
    if (!account) {
      account = { role, provisional: 0, verified: 0, forfeited: 0 };
      this.accounts.set(identity, account);
    }
    return account;
  }
}

const CHECK_SALT = 0xc4ec;
