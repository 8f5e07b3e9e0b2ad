// What a committed round says about itself beyond its entries: the model it committed, the
// loss shown on the run's curve, the token ranges it trained, and who took part (the name
// shown and the GPU time the relay measured). The relay's signed head for the round carries
// the digest of this canonical text (ledger-signatures.ts), so an edit to any of it in the
// database is caught by every auditor, the relay's own start-up check included.
//
// Canonical text, UTF-8: the line `potluck-round-v1`, a newline, then the JSON array
//
//   [runId, round, modelHash, trainLoss, [[start, end], ...], [[peerKey, name, busyMs], ...]]
//
// JSON.stringify of arrays of strings and numbers is deterministic, writes a number as the
// shortest text that reads back exactly (ECMA-262 Number::toString), and escapes any
// character a name may hold, so the text is unambiguous. Members are in the order the relay
// gave them. Its hex SHA-256 is the digest.
import * as v from 'valibot';
import { DisplayName } from './display-name.ts';
import { MAX_ROUND, PublicKeyText, RunId, Sha256Hex } from './ledger-entry.ts';
import { sha256Hex } from './sha256.ts';

export const ROUND_METADATA_VERSION = 'potluck-round-v1';
/** Longest display name kept (the swarm protocol allows fewer). */
export const MAX_MEMBER_NAME = 100;
/** Most members or shards one round may record: far above any run, below a hostile body. */
export const MAX_ROUND_MEMBERS = 4096;

const Offset = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

export const RoundMemberSchema = v.object({
  peerKey: PublicKeyText,
  /** The name the peer went by in this round ('' for none); the swarm's own rules (display-name.ts). */
  name: DisplayName(MAX_MEMBER_NAME),
  /** GPU time the relay measured for the peer in this round, milliseconds. */
  busyMs: Offset,
});
export type RoundMember = v.InferOutput<typeof RoundMemberSchema>;

export const RoundMetadataSchema = v.object({
  runId: RunId,
  round: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_ROUND)),
  /** Hash of the weights the round committed. */
  modelHash: Sha256Hex,
  trainLoss: v.nullable(v.pipe(v.number(), v.finite())),
  /** Token ranges [start, end) trained in the round. */
  shards: v.pipe(
    v.array(
      v.pipe(
        v.tuple([Offset, Offset]),
        v.check(([start, end]) => start < end, 'a shard is a non-empty range [start, end)'),
      ),
    ),
    v.maxLength(MAX_ROUND_MEMBERS),
  ),
  members: v.pipe(
    v.array(RoundMemberSchema),
    v.maxLength(MAX_ROUND_MEMBERS),
    v.check(
      (members) => new Set(members.map((m) => m.peerKey)).size === members.length,
      'a peer is a member of a round once',
    ),
  ),
});
export type RoundMetadata = v.InferOutput<typeof RoundMetadataSchema>;

/** The metadata if `input` is well formed, else null; never throws. */
export function parseRoundMetadata(input: unknown): RoundMetadata | null {
  const result = v.safeParse(RoundMetadataSchema, input);
  return result.success ? result.output : null;
}

export function roundMetadataText(m: RoundMetadata): string {
  const shards = m.shards.map(([start, end]) => [start, end]);
  const members = m.members.map((x) => [x.peerKey, x.name, x.busyMs]);
  return `${ROUND_METADATA_VERSION}\n${JSON.stringify([m.runId, m.round, m.modelHash, m.trainLoss, shards, members])}`;
}

/** Hex SHA-256 of roundMetadataText(m): what the round's signed head carries. */
export async function roundMetadataDigest(m: RoundMetadata): Promise<string> {
  return sha256Hex(new TextEncoder().encode(roundMetadataText(m)));
}
