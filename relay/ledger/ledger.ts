// The relay's credit ledger (docs/ARCHITECTURE.md, "Credits"): runs, peers, committed rounds
// and the append-only, hash-chained entries that credit, settle and ban peers in them, with a
// signed head per round covering its metadata, and the rotations of the key that signs them.
// Everything goes through `Sql`, so the same class runs on embedded PGlite and on a PostgreSQL
// server shared by several relays.

import * as v from 'valibot';
import { type LeaderboardRow, MAX_LEDGER_PAGE } from '../../protocol/ledger-api.ts';
import type { ChainCheck } from '../../protocol/ledger-chain.ts';
import {
  CREDIT_KINDS,
  type LedgerEntry,
  type PeerEntryKind,
  PublicKeyText,
  RunId,
} from '../../protocol/ledger-entry.ts';
import type { KeyRotation } from '../../protocol/ledger-keys.ts';
import { type LedgerHead, type Receipt, receiptMessage } from '../../protocol/ledger-signatures.ts';
import { MAX_MEMBER_NAME, type RoundMetadata } from '../../protocol/round-metadata.ts';
import { type RunOriginRecord, verifyRunOrigin } from '../../protocol/run-origin-record.ts';
import { type CommitRoundInput, checkCommitInput } from './commit-input.ts';
import { commitRoundIn } from './commit-round.ts';
import { LedgerError } from './errors.ts';
import type { RelaySigner } from './relay-signer.ts';
import { readRotations, rotateKeyIn } from './rotate-key.ts';
import {
  ENTRY_COLUMNS,
  type EntryRow,
  HEAD_COLUMNS,
  type HeadRow,
  type LeaderboardDbRow,
  ROUND_COLUMNS,
  type RoundRecord,
  type RoundRow,
  toEntry,
  toHead,
  toLeaderboardRow,
  toMetadata,
  toRound,
} from './rows.ts';
import { type RunOriginInput, readRunOrigin, recordRunOrigin } from './run-origins.ts';
import { migrate } from './schema.ts';
import type { Sql } from './sql.ts';
import { foldStandings, type Standing } from './standings.ts';
import { assertLedgerIntact, verifyLedger } from './verify-ledger.ts';

export interface CommitResult {
  readonly entries: LedgerEntry[];
  /** The round's signed head: every committed round has one. */
  readonly head: LedgerHead;
  /** One per credit entry (verified or provisional), in entry order: what each credited peer keeps as proof. */
  readonly receipts: Receipt[];
  readonly duplicate: boolean;
}

/** A committed round as an auditor reads it: its metadata and its signed head. */
export interface SignedRound {
  /** Commit order: the cursor of the next page. */
  readonly seq: number;
  readonly metadata: RoundMetadata;
  /** Null only in a tampered database: every commit writes one. */
  readonly head: LedgerHead | null;
}

/** Longest display name kept; the swarm protocol allows fewer (MAX_NAME_LENGTH). */
export const MAX_PEER_NAME = MAX_MEMBER_NAME;

export class Ledger {
  /** Commits from this process run one after another (the table lock covers other relays). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly sql: Sql,
    private readonly signer: RelaySigner,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A ledger on `sql`, its schema migrated to this build's version. */
  static async open(sql: Sql, signer: RelaySigner, now?: () => Date): Promise<Ledger> {
    await migrate(sql);
    return new Ledger(sql, signer, now);
  }

  /** The relay's public key: what receipts and heads verify against. */
  get relayKey(): string {
    return this.signer.publicKey;
  }

  /** Records the run on first sight; a run's config never changes afterwards. */
  async ensureRun(id: string, config: unknown): Promise<void> {
    if (!v.is(RunId, id)) throw new LedgerError('ERR_LEDGER_INPUT', `run id ${JSON.stringify(id)}`);
    await this.sql.query(
      `insert into runs (id, config, created_at) values ($1, $2::jsonb, $3)
       on conflict (id) do nothing`,
      [id, JSON.stringify(config), this.now().toISOString()],
    );
  }

  /** The config a run was recorded with (ensureRun), or null for a run this ledger never saw. */
  async runConfig(id: string): Promise<unknown | null> {
    if (!v.is(RunId, id)) return null;
    const [row] = await this.sql.query<{ config: unknown }>('select config from runs where id = $1', [id]);
    return row ? row.config : null;
  }

  /**
   * Records where a run started (protocol/run-origin-record.ts), signed; once per run; the
   * record that stands (this one, or the one another relay wrote first) is returned.
   */
  recordOrigin(input: RunOriginInput): Promise<RunOriginRecord> {
    return recordRunOrigin(this.sql, this.signer, this.now(), input);
  }

  /**
   * Where the run started, null for a run from its seed. Throws ERR_LEDGER_BROKEN when the
   * record is signed by no key this ledger has been in the hands of: someone edited it.
   */
  async origin(runId: string): Promise<RunOriginRecord | null> {
    const record = await readRunOrigin(this.sql, runId);
    if (!record) return null;
    const rotations = await this.rotations();
    const keys = new Set([this.signer.publicKey, ...rotations.flatMap((r) => [r.fromKey, r.toKey])]);
    for (const key of keys) if (await verifyRunOrigin(record, key)) return record;
    throw new LedgerError(
      'ERR_LEDGER_BROKEN',
      `the origin recorded for run ${runId} is not signed by the ledger's key: refusing to serve it. ` +
        'Restore the database from a backup, or start a new one',
    );
  }

  /**
   * Notes a peer as seen now, with its display name (null keeps the old one) and GPU time
   * worked since its last touch (added to its total).
   */
  async touchPeer(publicKey: string, name: string | null, gpuMs = 0): Promise<void> {
    if (!v.is(PublicKeyText, publicKey)) throw new LedgerError('ERR_LEDGER_INPUT', 'peer key');
    if (name !== null && name.length > MAX_PEER_NAME)
      throw new LedgerError('ERR_LEDGER_INPUT', 'peer name too long');
    if (!Number.isSafeInteger(gpuMs) || gpuMs < 0)
      throw new LedgerError('ERR_LEDGER_INPUT', `gpuMs ${gpuMs}`);
    // The peers table is bookkeeping, not the ledger: the one table updated in place.
    await this.sql.query(
      `insert into peers (public_key, name, first_seen, last_seen, gpu_ms) values ($1, $2, $3, $3, $4)
       on conflict (public_key) do update set
         name = coalesce(excluded.name, peers.name),
         last_seen = excluded.last_seen,
         gpu_ms = peers.gpu_ms + excluded.gpu_ms`,
      [publicKey, name, this.now().toISOString(), gpuMs],
    );
  }

  /**
   * Records a committed round and credits its peers, all in one transaction. Committing a
   * round again (a retry after a crash, a second relay) writes nothing and returns what the
   * first commit wrote, with `duplicate: true`.
   */
  async commitRound(input: CommitRoundInput, fence?: (tx: Sql) => Promise<void>): Promise<CommitResult> {
    checkCommitInput(input);
    const run = this.queue.then(async () => {
      const committed = await this.sql.transaction(async (tx) => {
        // Several relays: the one committing must still hold the run's lease (cluster/leadership.ts).
        await fence?.(tx);
        return commitRoundIn(tx, this.signer, this.now(), input);
      });
      const credits = committed.entries.filter((entry) => CREDIT_KINDS.includes(entry.kind));
      return { ...committed, receipts: await this.receipts(credits) };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Hands the ledger to `next` (protocol/ledger-keys.ts): a relay-key entry signed by this
   * ledger's key and by `next`. Afterwards this Ledger commits nothing (its key is retired);
   * open one with `next`. Null when no round was committed yet: nothing is signed, nothing
   * is handed over, and `next` signs from the first round.
   */
  async rotateKey(next: RelaySigner): Promise<KeyRotation | null> {
    const run = this.queue.then(() =>
      this.sql.transaction((tx) => rotateKeyIn(tx, this.signer, next, this.now())),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Every rotation of the relay's key, in height order (`/api/ledger/keys`). */
  rotations(): Promise<KeyRotation[]> {
    return readRotations(this.sql);
  }

  /** Entries above `height`, ascending: the audit stream, page by page. */
  async entriesAfter(height: number, limit: number): Promise<LedgerEntry[]> {
    const capped = Math.max(1, Math.min(MAX_LEDGER_PAGE, Math.floor(limit) || 1));
    const rows = await this.sql.query<EntryRow>(
      `select ${ENTRY_COLUMNS} from ledger_entries where height > $1 order by height limit $2`,
      [Math.max(0, Math.floor(height) || 0), capped],
    );
    return rows.map(toEntry);
  }

  /** The newest signed head (the chain's tip), null before the first committed round. */
  async head(): Promise<LedgerHead | null> {
    const [row] = await this.sql.query<HeadRow>(
      `select ${HEAD_COLUMNS} from ledger_heads join rounds using (run_id, round)
        order by height desc, seq desc limit 1`,
    );
    return row ? toHead(row) : null;
  }

  /** Committed rounds of every run after the round record `after`, in commit order, with their heads. */
  async signedRounds(after: number, limit: number): Promise<SignedRound[]> {
    const capped = Math.max(1, Math.min(MAX_LEDGER_PAGE, Math.floor(limit) || 1));
    const rows = await this.sql.query<RoundRow & Partial<HeadRow> & { seq: number | string }>(
      `select seq, ${ROUND_COLUMNS}, height, hash, metadata_digest, signature
         from rounds left join ledger_heads using (run_id, round)
        where seq > $1 order by seq limit $2`,
      [Math.max(0, Math.floor(after) || 0), capped],
    );
    return rows.map((row) => ({
      seq: Number(row.seq),
      metadata: toMetadata(toRound(row)),
      head: row.signature == null ? null : toHead(row as RoundRow & HeadRow),
    }));
  }

  /** The run's last committed round, where a restarted relay resumes; null before the first. */
  async lastRound(runId: string): Promise<RoundRecord | null> {
    const [row] = await this.sql.query<RoundRow>(
      `select ${ROUND_COLUMNS} from rounds where run_id = $1 order by round desc limit 1`,
      [runId],
    );
    return row ? toRound(row) : null;
  }

  /** Every committed round of the run, ascending: its loss curve. */
  async rounds(runId: string): Promise<RoundRecord[]> {
    const rows = await this.sql.query<RoundRow>(
      `select ${ROUND_COLUMNS} from rounds where run_id = $1 order by round`,
      [runId],
    );
    return rows.map(toRound);
  }

  /** Token ranges trained in the run's rounds from `fromRound` on, in round order. */
  async committedShards(runId: string, fromRound: number): Promise<[number, number][]> {
    const rows = await this.sql.query<{ shards: [number, number][] }>(
      'select shards from rounds where run_id = $1 and round >= $2 order by round',
      [runId, fromRound],
    );
    return rows.flatMap((row) => row.shards);
  }

  /**
   * Peers named by entries, by verified FLOPs, most first; over one run or, without it, all
   * runs. Names and GPU time come from the rounds' signed metadata, never from the peers
   * table (bookkeeping anyone with the database could edit unseen).
   */
  async leaderboard(runId?: string): Promise<LeaderboardRow[]> {
    const rows = await this.sql.query<LeaderboardDbRow>(
      `with e as (
         select peer_key,
                coalesce(sum(case when kind in ('credit-verified', 'verify') then flops
                                  when kind = 'ban' then -flops end), 0) as verified,
                coalesce(sum(case kind when 'credit-provisional' then flops
                                        when 'verify' then -flops when 'forfeit' then -flops end), 0)
                  as provisional,
                coalesce(sum(tokens) filter (where kind like 'credit-%'), 0) as tokens,
                count(distinct run_id || ':' || round) filter (where kind like 'credit-%') as rounds,
                bool_or(kind = 'ban') as banned
           from ledger_entries
          where ($1::text is null or run_id = $1::text) and kind <> 'relay-key'
          group by peer_key),
       m as (
         select member->>'peerKey' as peer_key,
                sum((member->>'busyMs')::bigint) as gpu_ms,
                (array_agg(member->>'name' order by seq desc))[1] as name
           from rounds cross join lateral jsonb_array_elements(members) as member
          where $1::text is null or run_id = $1::text
          group by 1)
       select e.peer_key, m.name, e.verified::text as verified, e.provisional::text as provisional,
              e.tokens, e.rounds, e.banned, m.gpu_ms, p.last_seen
         from e left join m on m.peer_key = e.peer_key left join peers p on p.public_key = e.peer_key
        order by e.verified desc, e.provisional desc, e.peer_key`,
      [runId ?? null],
    );
    return rows.map(toLeaderboardRow);
  }

  /** Each peer of the run with any entry: its verified rounds and whether it is banned. */
  async standings(runId: string): Promise<Map<string, Standing>> {
    const rows = await this.sql.query<{ peer_key: string; kind: PeerEntryKind; round: number }>(
      `select peer_key, kind, round from ledger_entries where run_id = $1 and kind <> 'relay-key'
        order by height`,
      [runId],
    );
    return foldStandings(rows.map((row) => ({ peerKey: row.peer_key, kind: row.kind, round: row.round })));
  }

  /**
   * The whole ledger audited as an outside auditor would (protocol/ledger-audit.ts): every
   * key rotation signed by both its keys, every entry re-hashed and linked, every round's head
   * signed by the key in force and covering its metadata, and the chain's tip the newest head.
   */
  verifyChain(): Promise<ChainCheck> {
    return verifyLedger(this, this.signer.publicKey);
  }

  /**
   * verifyChain, throwing ERR_LEDGER_BROKEN with the height and reason of the first failure;
   * first ERR_RELAY_KEY_MISMATCH or ERR_RELAY_KEY_RETIRED when this relay's key is not the one
   * the ledger is in the hands of (verify-ledger.ts).
   */
  assertIntact(): Promise<void> {
    return assertLedgerIntact(this, this.signer.publicKey);
  }

  /** Receipts are re-made rather than stored: Ed25519 signatures are deterministic (RFC 8032). */
  private async receipts(entries: readonly LedgerEntry[]): Promise<Receipt[]> {
    const relayKey = this.signer.publicKey;
    return Promise.all(
      entries.map(async (entry) => ({
        entry,
        relayKey,
        signature: await this.signer.sign(receiptMessage(entry.hash)),
      })),
    );
  }
}
