// What PeerMesh publishes through the relay's /signal topics (protocol/signal-messages.ts),
// and the check applied to everything it receives there. Each peer listens on its own topic,
// `potluck/<runId>/<its key>`; to reach peer B, A publishes to B's topic:
//
//   { type: 'publish', topic, kind: 'signal',  from: A, session, signal }  offer, answer or ICE
//   { type: 'publish', topic, kind: 'connect', from: A }                   "please initiate"
//
// The smaller key always initiates (so two peers connecting at once make one connection);
// the larger one asks with `connect`. `session` names the initiator's attempt, so signals of an
// abandoned attempt cannot reach its successor. `from` is only a claim: the data channel's
// authentication (channel-auth.ts) is what proves it. Anyone can publish anything to a topic,
// so `parseMeshSignal` never throws and caps every string.
import * as v from 'valibot';
import { decodeBase64url } from '../../../protocol/base64url.ts';
import { ED25519_PUBLIC_KEY_BYTES } from '../../../protocol/ed25519-verify.ts';

export const MESH_TOPIC_PREFIX = 'potluck';
/** An SDP for one data channel is ~1 KB; with many candidates a few KB. The relay caps frames at 64 KiB. */
export const MAX_SDP_LENGTH = 32 * 1024;
/** One candidate line; RFC 8839 §5.1 lines are well under this. */
export const MAX_CANDIDATE_LENGTH = 1024;
export const MAX_SDP_MID_LENGTH = 64;
/** A session id: 16 random bytes, base64url (22 characters). */
export const SESSION_LENGTH = 22;

/** The topic peer `key` listens on in run `runId`. */
export function meshTopic(runId: string, key: string): string {
  return `${MESH_TOPIC_PREFIX}/${runId}/${key}`;
}

/** Whether `key` is a canonical base64url raw Ed25519 public key. */
export function isPeerKey(key: unknown): key is string {
  return decodeBase64url(key)?.length === ED25519_PUBLIC_KEY_BYTES;
}

const PeerKey = v.pipe(
  v.string(),
  v.maxLength(64),
  v.check((key: string) => isPeerKey(key), 'not an Ed25519 public key'),
);
const Session = v.pipe(v.string(), v.length(SESSION_LENGTH), v.regex(/^[A-Za-z0-9_-]+$/));
const Sdp = v.pipe(v.string(), v.maxLength(MAX_SDP_LENGTH));

/** The simple-peer signal data we accept: no renegotiation, no transceivers (data only). */
export const MeshSignalDataSchema = v.variant('type', [
  v.object({ type: v.literal('offer'), sdp: Sdp }),
  v.object({ type: v.literal('answer'), sdp: Sdp }),
  v.object({
    type: v.literal('candidate'),
    candidate: v.object({
      candidate: v.pipe(v.string(), v.maxLength(MAX_CANDIDATE_LENGTH)),
      sdpMLineIndex: v.nullish(v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(65535))),
      sdpMid: v.nullish(v.pipe(v.string(), v.maxLength(MAX_SDP_MID_LENGTH))),
    }),
  }),
]);
export type MeshSignalData = v.InferOutput<typeof MeshSignalDataSchema>;

/** `type`, `topic` and the relay's `clients` are dropped: v.object keeps only what it names. */
export const MeshSignalSchema = v.variant('kind', [
  v.object({ kind: v.literal('connect'), from: PeerKey }),
  v.object({ kind: v.literal('signal'), from: PeerKey, session: Session, signal: MeshSignalDataSchema }),
]);
export type MeshSignal = v.InferOutput<typeof MeshSignalSchema>;

/** The mesh signal in a publish message, or null for anything else. Never throws. */
export function parseMeshSignal(message: unknown): MeshSignal | null {
  const result = v.safeParse(MeshSignalSchema, message, { abortEarly: true });
  return result.success ? result.output : null;
}

/** Payload of a publish (SignalChannel.publish adds `type` and `topic`). */
export function signalPayload(
  from: string,
  session: string,
  signal: MeshSignalData,
): Record<string, unknown> {
  return { kind: 'signal', from, session, signal };
}

export function connectPayload(from: string): Record<string, unknown> {
  return { kind: 'connect', from };
}
