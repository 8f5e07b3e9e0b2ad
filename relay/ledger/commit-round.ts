// Committing one round, inside one transaction: the rounds row, one chained entry per
// credited peer, and the signed head. Either all of it is written or none, so a relay that
// crashes mid-commit and retries finds either nothing (and writes it all) or the whole round
// (and hands back what is there). Heights come from the chain's tip read under an exclusive
// table lock, so two relays sharing a server never both append at one height.
import { entryHash, GENESIS_HASH, type LedgerEntry } from '../../protocol/ledger-entry.ts';
import { headMessage, type LedgerHead } from '../../protocol/ledger-signatures.ts';
import { type CommitRoundInput, idempotencyKey } from './commit-input.ts';
import { LedgerError } from './errors.ts';
import type { RelaySigner } from './relay-signer.ts';
import { ENTRY_COLUMNS, type EntryRow, HEAD_COLUMNS, type HeadRow, toEntry, toHead } from './rows.ts';
import type { Sql } from './sql.ts';

export interface CommittedRound {
  readonly entries: LedgerEntry[];
  /** Null for a round that credited nobody: the chain did not move. */
  readonly head: LedgerHead | null;
  /** True when the round was committed before and nothing was written now. */
  readonly duplicate: boolean;
}

/** Runs in `tx`; the caller has checked `input` (commit-input.ts). */
export async function commitRoundIn(
  tx: Sql,
  signer: RelaySigner,
  now: Date,
  input: CommitRoundInput,
): Promise<CommittedRound> {
  // EXCLUSIVE blocks other writers but not readers: auditors keep paging while we append.
  await tx.query('lock table ledger_entries in exclusive mode');
  const [existing] = await tx.query<{ model_hash: string }>(
    'select model_hash from rounds where run_id = $1 and round = $2',
    [input.runId, input.round],
  );
  if (existing) {
    if (existing.model_hash !== input.modelHash) {
      throw new LedgerError(
        'ERR_LEDGER_ROUND_CONFLICT',
        `round ${input.round} of ${input.runId} is committed with model ${existing.model_hash}`,
      );
    }
    return { ...(await readRound(tx, input.runId, input.round)), duplicate: true };
  }
  const [run] = await tx.query('select 1 from runs where id = $1', [input.runId]);
  if (!run) throw new LedgerError('ERR_LEDGER_UNKNOWN_RUN', `no run ${input.runId}; call ensureRun first`);

  const createdAt = now.toISOString();
  const tokens = input.credits.reduce((sum, c) => sum + c.tokens, 0);
  await tx.query(
    `insert into rounds (run_id, round, model_hash, tokens, train_loss, shards, committed_at)
     values ($1, $2, $3, $4, $5, $6::jsonb, $7)`,
    [
      input.runId,
      input.round,
      input.modelHash,
      tokens,
      input.trainLoss,
      JSON.stringify(input.shards),
      createdAt,
    ],
  );

  const [tip] = await tx.query<{ height: number | string; hash: string }>(
    'select height, hash from ledger_entries order by height desc limit 1',
  );
  let height = tip ? Number(tip.height) : 0;
  let prevHash = tip?.hash ?? GENESIS_HASH;
  const entries: LedgerEntry[] = [];
  for (const credit of input.credits) {
    const content = {
      height: height + 1,
      prevHash,
      runId: input.runId,
      round: input.round,
      peerKey: credit.peerKey,
      tokens: credit.tokens,
      flops: credit.flops.toString(),
      modelHash: input.modelHash,
      createdAt,
    };
    const entry: LedgerEntry = { ...content, hash: await entryHash(content) };
    await tx.query(
      `insert into ledger_entries
         (height, prev_hash, hash, run_id, round, peer_key, tokens, flops, model_hash, idempotency_key, created_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8::numeric, $9, $10, $11)`,
      [
        entry.height,
        entry.prevHash,
        entry.hash,
        entry.runId,
        entry.round,
        entry.peerKey,
        entry.tokens,
        entry.flops,
        entry.modelHash,
        idempotencyKey(entry.runId, entry.round, entry.peerKey),
        entry.createdAt,
      ],
    );
    // Credited peers appear on the leaderboard even if they never sent touchPeer.
    await tx.query(
      `insert into peers (public_key, first_seen, last_seen) values ($1, $2, $2)
       on conflict (public_key) do nothing`,
      [entry.peerKey, createdAt],
    );
    entries.push(entry);
    height = entry.height;
    prevHash = entry.hash;
  }

  const last = entries.at(-1);
  if (!last) return { entries, head: null, duplicate: false };
  const unsigned = { height: last.height, hash: last.hash, runId: input.runId, round: input.round };
  const head: LedgerHead = { ...unsigned, signature: await signer.sign(headMessage(unsigned)) };
  await tx.query(
    'insert into ledger_heads (height, hash, round, run_id, signature) values ($1, $2, $3, $4, $5)',
    [head.height, head.hash, head.round, head.runId, head.signature],
  );
  return { entries, head, duplicate: false };
}

/** The entries and head a committed round wrote. */
export async function readRound(
  sql: Sql,
  runId: string,
  round: number,
): Promise<{ entries: LedgerEntry[]; head: LedgerHead | null }> {
  const entryRows = await sql.query<EntryRow>(
    `select ${ENTRY_COLUMNS} from ledger_entries where run_id = $1 and round = $2 order by height`,
    [runId, round],
  );
  const [headRow] = await sql.query<HeadRow>(
    `select ${HEAD_COLUMNS} from ledger_heads where run_id = $1 and round = $2`,
    [runId, round],
  );
  return { entries: entryRows.map(toEntry), head: headRow ? toHead(headRow) : null };
}
