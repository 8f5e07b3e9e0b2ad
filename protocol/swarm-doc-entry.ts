// What a peer writes under its own key in the swarm document's `peers` map (a Yjs map every
// peer of the run replicates; web/src/peer/swarm-doc.ts writes it, swarm-doc-roster.ts reads
// it). The entry crosses between peers, so its schema lives here, the one both sides use.
// Any peer in the room can write any key with any value: readers parse every entry with
// PeerEntrySchema, which caps every string and accepts only finite numbers. Its numbers
// (credits included) are the writer's own claim: the relay's ledger is the truth, and the
// roster is for display.
import * as v from 'valibot';
import { MAX_NAME_LENGTH } from './swarm-messages.ts';

/**
 * Where a peer is in its round loop: the phases of VolunteerEvent's `round` event
 * (web/src/peer/volunteer.ts), plus `idle` (joined, no round yet) and `paused` (the person
 * paused donating).
 */
export const SWARM_PHASES = [
  'idle',
  'paused',
  'training',
  'exchanging',
  'summing',
  'committed',
  'aborted',
] as const;
export type SwarmPhase = (typeof SWARM_PHASES)[number];

const Count = v.pipe(v.number(), v.finite(), v.minValue(0));

/** v.object keeps only the fields it names, so extra fields a writer adds are dropped. */
export const PeerEntrySchema = v.object({
  /** The name the person chose (the leaderboard's, capped the same). */
  name: v.pipe(v.string(), v.maxLength(MAX_NAME_LENGTH)),
  /** The round the peer is in or last finished. */
  round: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  phase: v.picklist(SWARM_PHASES),
  /** The last training loss; null before the first round. */
  loss: v.nullable(v.pipe(v.number(), v.finite())),
  tokensPerSec: Count,
  /** Peer-mesh traffic since the peer joined. */
  bytesSent: Count,
  bytesReceived: Count,
  /** The credits the peer says the relay gave it; the ledger is the truth. */
  credits: v.pipe(v.number(), v.finite()),
  /** The writer's wall clock (ms since the epoch) when it wrote the entry. */
  updatedAt: Count,
});
export type PeerEntry = Readonly<v.InferOutput<typeof PeerEntrySchema>>;
