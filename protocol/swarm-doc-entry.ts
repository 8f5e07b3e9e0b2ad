// What a peer writes under its own key in the swarm document's `peers` map (a Yjs map every
// peer of the run replicates; web/src/peer/swarm-doc.ts writes it, swarm-doc-roster.ts reads
// it). The entry crosses between peers, so its schema lives here, the one both sides use.
//
// Any peer in the room can write any key with any value (a Yjs map has no owners), so a value
// is a SignedEntry: the entry as JSON text (`body`) and its author's Ed25519 signature over
// swarmEntryMessage(runId, key, body) (swarm-signing.ts). The signature covers the exact text
// stored, so nothing is re-encoded before it is checked, and names the run and the map key, so
// an entry cannot be moved to another key or run. `updatedAt` grows with every write of an
// author, so a reader that has shown an entry refuses an older one replayed over it.
//
// Credits are not in an entry: a peer's word on its credits is worth nothing, and the page
// shows the relay's leaderboard figure next to each row instead (web/src/volunteer/swarm-table.ts).
import * as v from 'valibot';
import { DisplayName } from './display-name.ts';
import { SignatureText } from './ledger-signatures.ts';
import { MAX_NAME_LENGTH } from './swarm-messages.ts';

/**
 * Where a peer is in its round loop: the phases of VolunteerEvent's `round` event
 * (web/src/peer/volunteer.ts), plus `idle` (joined, no round yet), `paused` (the person paused
 * donating) and `left` (the peer's farewell: it closed the document, readers drop its row).
 */
export const SWARM_PHASES = [
  'idle',
  'paused',
  'training',
  'exchanging',
  'summing',
  'committed',
  'aborted',
  'left',
] as const;
export type SwarmPhase = (typeof SWARM_PHASES)[number];

/**
 * UTF-16 units of an entry's JSON text. The largest honest one is about 330: a 40-unit name
 * whose every character JSON escapes (80), seven numbers of at most 24 characters, the field
 * names. Readers refuse a longer body before parsing it.
 */
export const MAX_ENTRY_BODY_LENGTH = 512;

const Count = v.pipe(v.number(), v.finite(), v.minValue(0));

/** v.object keeps only the fields it names, so extra fields a writer adds are dropped. */
export const PeerEntrySchema = v.object({
  /** The name the person chose, held to the leaderboard's rules (display-name.ts). */
  name: DisplayName(MAX_NAME_LENGTH),
  /** The round the peer is in or last finished. */
  round: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  phase: v.picklist(SWARM_PHASES),
  /** The last training loss; null before the first round. */
  loss: v.nullable(v.pipe(v.number(), v.finite())),
  tokensPerSec: Count,
  /** Peer-mesh traffic since the peer joined. */
  bytesSent: Count,
  bytesReceived: Count,
  /**
   * The writer's wall clock (ms since the epoch) when it signed the entry, strictly greater
   * than in any earlier entry of that writer: the newer of two entries has the larger one.
   */
  updatedAt: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
});
export type PeerEntry = Readonly<v.InferOutput<typeof PeerEntrySchema>>;

/** A value of the `peers` map: an entry's exact text and its author's signature of it. */
export const SignedEntrySchema = v.object({
  body: v.pipe(v.string(), v.maxLength(MAX_ENTRY_BODY_LENGTH)),
  signature: SignatureText,
});
export type SignedEntry = v.InferOutput<typeof SignedEntrySchema>;

/** An entry's text, its fields in one fixed order: what the author signs and stores. */
export function encodeEntryBody(entry: PeerEntry): string {
  const { name, round, phase, loss, tokensPerSec, bytesSent, bytesReceived, updatedAt } = entry;
  return JSON.stringify({ name, round, phase, loss, tokensPerSec, bytesSent, bytesReceived, updatedAt });
}

/** The entry an entry's text holds, or null for text too long, not JSON, or not an entry. */
export function decodeEntryBody(body: string): PeerEntry | null {
  if (body.length > MAX_ENTRY_BODY_LENGTH) return null;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null; // a peer's text that is not JSON is not an entry; nothing more to say about it
  }
  const result = v.safeParse(PeerEntrySchema, json, { abortEarly: true });
  return result.success ? result.output : null;
}
