// Database rows to the values the ledger hands out. Drivers disagree on wide integers (pg
// returns bigint and numeric as text, PGlite returns bigint as a number), so every column is
// converted here, once, the same way for both.
import { creditsOf } from '../../protocol/credits.ts';
import type { LeaderboardRow } from '../../protocol/ledger-api.ts';
import type { EntryKind, LedgerEntry } from '../../protocol/ledger-entry.ts';
import type { KeyRotation } from '../../protocol/ledger-keys.ts';
import type { LedgerHead } from '../../protocol/ledger-signatures.ts';
import type { RoundMember, RoundMetadata } from '../../protocol/round-metadata.ts';

type Wide = number | string | bigint;

export interface EntryRow {
  height: Wide;
  prev_hash: string;
  hash: string;
  kind: EntryKind;
  run_id: string;
  round: number;
  peer_key: string;
  tokens: Wide;
  flops: Wide;
  model_hash: string;
  reason: string;
  created_at: string;
}

export const ENTRY_COLUMNS =
  'height, prev_hash, hash, kind, run_id, round, peer_key, tokens, flops::text as flops, model_hash, reason, created_at';

export function toEntry(row: EntryRow): LedgerEntry {
  return {
    height: Number(row.height),
    prevHash: row.prev_hash,
    hash: row.hash,
    kind: row.kind,
    runId: row.run_id,
    round: row.round,
    peerKey: row.peer_key,
    tokens: Number(row.tokens),
    flops: String(row.flops),
    modelHash: row.model_hash,
    reason: row.reason,
    createdAt: row.created_at,
  };
}

export interface HeadRow {
  height: Wide;
  hash: string;
  run_id: string;
  round: number;
  metadata_digest: string;
  signature: string;
}

export const HEAD_COLUMNS = 'height, hash, run_id, round, metadata_digest, signature';

export function toHead(row: HeadRow): LedgerHead {
  return {
    height: Number(row.height),
    hash: row.hash,
    runId: row.run_id,
    round: row.round,
    metadataDigest: row.metadata_digest,
    signature: row.signature,
  };
}

export interface RotationRow {
  height: Wide;
  hash: string;
  from_key: string;
  to_key: string;
  from_signature: string;
  to_signature: string;
}

/** Rotations with their entries' hash and new key (schema.ts, version 3); add the order. */
export const ROTATIONS_SELECT = `select k.height, e.hash, k.from_key, e.peer_key as to_key, k.from_signature, k.to_signature
  from relay_keys k join ledger_entries e using (height)`;

export function toRotation(row: RotationRow): KeyRotation {
  return {
    height: Number(row.height),
    hash: row.hash,
    fromKey: row.from_key,
    toKey: row.to_key,
    fromSignature: row.from_signature,
    toSignature: row.to_signature,
  };
}

/** A committed round: one point of the run's loss curve, and the shards it trained. */
export interface RoundRecord {
  readonly runId: string;
  readonly round: number;
  readonly modelHash: string;
  /** Tokens trained in the round, by every credited peer together. */
  readonly tokens: number;
  readonly trainLoss: number | null;
  /** Token ranges [start, end) of the training split. */
  readonly shards: [number, number][];
  /** ISO time. */
  readonly committedAt: string;
  /** Who took part: the name shown and the GPU time the relay measured. */
  readonly members: RoundMember[];
}

export interface RoundRow {
  run_id: string;
  round: number;
  model_hash: string;
  tokens: Wide;
  train_loss: number | null;
  shards: [number, number][];
  committed_at: Date | string;
  members: RoundMember[];
}

export const ROUND_COLUMNS = 'run_id, round, model_hash, tokens, train_loss, shards, committed_at, members';

export function toRound(row: RoundRow): RoundRecord {
  return {
    runId: row.run_id,
    round: row.round,
    modelHash: row.model_hash,
    tokens: Number(row.tokens),
    trainLoss: row.train_loss,
    shards: row.shards,
    committedAt: new Date(row.committed_at).toISOString(),
    members: row.members,
  };
}

/** The part of a round its head signs (protocol/round-metadata.ts). */
export function toMetadata(round: RoundRecord): RoundMetadata {
  const { runId, modelHash, trainLoss, shards, members } = round;
  return { runId, round: round.round, modelHash, trainLoss, shards, members };
}

export interface LeaderboardDbRow {
  peer_key: string;
  name: string | null;
  verified: string;
  provisional: string;
  tokens: Wide;
  gpu_ms: Wide | null;
  last_seen: Date | string | null;
  rounds: Wide;
  banned: boolean;
}

export function toLeaderboardRow(row: LeaderboardDbRow): LeaderboardRow {
  return {
    publicKey: row.peer_key,
    name: row.name,
    verifiedCredits: creditsOf(row.verified),
    verifiedFlops: row.verified,
    provisionalCredits: creditsOf(row.provisional),
    provisionalFlops: row.provisional,
    tokens: Number(row.tokens),
    gpuMs: Number(row.gpu_ms ?? 0),
    lastSeen: row.last_seen === null ? null : new Date(row.last_seen).toISOString(),
    rounds: Number(row.rounds),
    banned: row.banned,
  };
}
