// Committing one round, inside one transaction: the rounds row with its metadata, the chained
// entries, and the signed head. Either all of it is written or none, so a relay that crashes
// mid-commit and retries finds either nothing (and writes it all) or the whole round (and
// hands back what is there). Heights come from the chain's tip read under an exclusive table
// lock, so two relays sharing a server never both append at one height.
//
// Entries are written in this order: settlements first (they settle provisional credit from
// earlier rounds, never this round's unchecked work), then this round's credits, then bans.
// Every round gets a head, credited or not: the chain's tip after the round (height 0 and
// GENESIS_HASH while the chain is empty) and the digest of its metadata. Only the key in force
// signs: after a rotation (rotate-key.ts), a relay still holding the old key commits nothing.
import type { LedgerEntry } from '../../protocol/ledger-entry.ts';
import { headMessage, type LedgerHead } from '../../protocol/ledger-signatures.ts';
import { type RoundMetadata, roundMetadataDigest } from '../../protocol/round-metadata.ts';
import { appendEntry, type ChainTip, chainTip } from './append-entry.ts';
import type { CommitRoundInput } from './commit-input.ts';
import { LedgerError } from './errors.ts';
import type { RelaySigner } from './relay-signer.ts';
import { assertKeyInForce } from './rotate-key.ts';
import { ENTRY_COLUMNS, type EntryRow, HEAD_COLUMNS, type HeadRow, toEntry, toHead } from './rows.ts';
import { unsettledAmount, verifiedAmount } from './settlement.ts';
import type { Sql } from './sql.ts';

export interface CommittedRound {
  readonly entries: LedgerEntry[];
  /** The round's signed head; a round that wrote no entry signs the tip as it was. */
  readonly head: LedgerHead;
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
  // A relay still running on a key rotated away would sign heads every auditor refuses.
  await assertKeyInForce(tx, signer.publicKey);
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
    const round = await readRound(tx, input.runId, input.round);
    if (!round.head) throw new LedgerError('ERR_LEDGER_BROKEN', `round ${input.round} has no signed head`);
    return { entries: round.entries, head: round.head, duplicate: true };
  }
  const [run] = await tx.query('select 1 from runs where id = $1', [input.runId]);
  if (!run) throw new LedgerError('ERR_LEDGER_UNKNOWN_RUN', `no run ${input.runId}; call ensureRun first`);

  const createdAt = now.toISOString();
  const metadata: RoundMetadata = {
    runId: input.runId,
    round: input.round,
    modelHash: input.modelHash,
    trainLoss: input.trainLoss,
    shards: input.shards.map(([start, end]) => [start, end]),
    members: input.members.map(({ peerKey, name, busyMs }) => ({ peerKey, name, busyMs })),
  };
  await tx.query(
    `insert into rounds (run_id, round, model_hash, tokens, train_loss, shards, committed_at, members)
     values ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb)`,
    [
      input.runId,
      input.round,
      input.modelHash,
      input.credits.reduce((sum, c) => sum + c.tokens, 0),
      input.trainLoss,
      JSON.stringify(metadata.shards),
      createdAt,
      JSON.stringify(metadata.members),
    ],
  );

  let tip: ChainTip = await chainTip(tx);
  const entries: LedgerEntry[] = [];
  const common = { runId: input.runId, round: input.round, modelHash: input.modelHash, createdAt };
  const append = async (fields: Omit<Parameters<typeof appendEntry>[2], keyof typeof common>) => {
    const entry = await appendEntry(tx, tip, { ...common, ...fields });
    entries.push(entry);
    tip = entry;
  };
  for (const s of input.settlements) {
    const amount = await unsettledAmount(tx, input.runId, s.peerKey);
    const kind = s.outcome === 'verified' ? 'verify' : 'forfeit';
    await append({ kind, peerKey: s.peerKey, ...amount, reason: s.reason });
  }
  for (const c of input.credits) {
    const kind = c.status === 'verified' ? 'credit-verified' : 'credit-provisional';
    await append({ kind, peerKey: c.peerKey, tokens: c.tokens, flops: c.flops.toString(), reason: '' });
  }
  for (const b of input.bans) {
    const voided = await verifiedAmount(tx, input.runId, b.peerKey);
    await append({ kind: 'ban', peerKey: b.peerKey, ...voided, reason: b.reason });
  }

  const unsigned = {
    height: tip.height,
    hash: tip.hash,
    runId: input.runId,
    round: input.round,
    metadataDigest: await roundMetadataDigest(metadata),
  };
  const head: LedgerHead = { ...unsigned, signature: await signer.sign(headMessage(unsigned)) };
  await tx.query(
    `insert into ledger_heads (run_id, round, height, hash, metadata_digest, signature)
     values ($1, $2, $3, $4, $5, $6)`,
    [head.runId, head.round, head.height, head.hash, head.metadataDigest, head.signature],
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
