// Every limit of PeerMesh, named, with its default and the reason for it.

import { maxAggregateFrameBytes } from '../../../protocol/aggregate-frame.ts';
import { PIECE_HEADER_BYTES } from '../../../protocol/aggregate-piece.ts';
import {
  CHUNK_HEADER_BYTES,
  DEFAULT_ASSEMBLER_LIMITS,
  MAX_CHUNK_BYTES,
  MIN_STRIDE,
} from '../../../protocol/frame-chunks.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import type { RunConfig } from '../../../protocol/run-config.ts';
import { maxStatePieceMessageBytes } from '../../../protocol/state-piece-message.ts';

export interface MeshLimits {
  /** Links kept at once, ours and unsolicited ones together. */
  readonly maxPeers: number;
  /** Largest message sent or accepted (the receiving assembler checks it before allocating). */
  readonly maxMessageBytes: number;
  /** Bytes on the wire per data-channel message, chunk header included. */
  readonly chunkBytes: number;
  /** Stop writing once the channel has this many bytes queued... */
  readonly highWaterMark: number;
  /** ...and resume once it has drained to this many. */
  readonly lowWaterMark: number;
  /** ICE, DTLS and the mutual authentication must finish within this. */
  readonly connectTimeoutMs: number;
  /** How long the larger key waits for an offer before asking the smaller one for one. */
  readonly offerGraceMs: number;
  /** First wait before trying a wanted peer again; doubles per failure up to the maximum. */
  readonly reconnectDelayMs: number;
  readonly maxReconnectDelayMs: number;
}

/**
 * Links one tab keeps at once. Chromium slows down well before its own limit (~500 peer
 * connections per page) once each link runs ICE, DTLS and SCTP timers; a round's group keeps
 * every volunteer at maxGroupSize − 1 links (15 by default) whatever the swarm's size.
 */
export const MAX_MESH_PEERS = 16;
/**
 * Same cap as the chunk assembler's default: one dense fp32 frame of 16M parameters. A run
 * narrows it (runMeshLimits); this is what a mesh without a run config takes.
 */
export const MAX_MESH_MESSAGE_BYTES = DEFAULT_ASSEMBLER_LIMITS.maxMessageBytes;
/**
 * Chromium throws once 16 MiB are queued on one channel; 1 MiB keeps far from that while
 * holding ~30 ms of loopback traffic, enough that the channel never runs dry between drains.
 */
export const MESH_HIGH_WATER_MARK = 2 ** 20;
export const MESH_LOW_WATER_MARK = 256 * 1024;
/** ICE on a slow network plus two signatures; a volunteer that needs longer is not useful. */
export const MESH_CONNECT_TIMEOUT_MS = 30_000;
/**
 * When both sides connect() at once, the smaller key's offer arrives within one relay round
 * trip; asking for one sooner would cross it and make the initiator start over. Only when no
 * offer comes (it was sent before we wanted that peer, and ignored) is the request needed.
 */
export const MESH_OFFER_GRACE_MS = 1_000;
export const MESH_RECONNECT_DELAY_MS = 1_000;
export const MESH_MAX_RECONNECT_DELAY_MS = 30_000;

export const DEFAULT_MESH_LIMITS: MeshLimits = {
  maxPeers: MAX_MESH_PEERS,
  maxMessageBytes: MAX_MESH_MESSAGE_BYTES,
  chunkBytes: MAX_CHUNK_BYTES,
  highWaterMark: MESH_HIGH_WATER_MARK,
  lowWaterMark: MESH_LOW_WATER_MARK,
  connectTimeoutMs: MESH_CONNECT_TIMEOUT_MS,
  offerGraceMs: MESH_OFFER_GRACE_MS,
  reconnectDelayMs: MESH_RECONNECT_DELAY_MS,
  maxReconnectDelayMs: MESH_MAX_RECONNECT_DELAY_MS,
};

/**
 * The limits of a run's mesh. In a data-parallel run a peer sends over it pieces of its round's
 * aggregate frame, in the format the run config bounds exactly, and pieces of the committed
 * state with their proofs (protocol/state-piece-message.ts), bounded by the piece size (the
 * mesh-auth frames of the handshake are not chunked messages and have their own fixed size,
 * mesh-auth-frame.ts). So a chunk announcing more is refused at once instead of being waited
 * for. A pipeline run carries activation frames and stage frames (a whole stage's state, for a
 * new replica) over the same mesh; it keeps the default cap.
 */
export function runMeshLimits(config: RunConfig): Partial<MeshLimits> {
  if (config.pipeline) return {};
  const aggregate = maxAggregateFrameBytes(paramLayout(config.model).totalFloats, config.round);
  return { maxMessageBytes: Math.max(PIECE_HEADER_BYTES + aggregate, maxStatePieceMessageBytes()) };
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be positive, not ${value}`);
  return value;
}

/** Fills in the defaults and checks them; a misconfiguration fails at construction. */
export function resolveMeshLimits(limits: Partial<MeshLimits> = {}): MeshLimits {
  const resolved = { ...DEFAULT_MESH_LIMITS, ...limits };
  for (const [name, value] of Object.entries(resolved)) positive(name, value);
  if (resolved.lowWaterMark > resolved.highWaterMark)
    throw new RangeError('lowWaterMark must not exceed highWaterMark');
  if (resolved.chunkBytes > MAX_CHUNK_BYTES || resolved.chunkBytes < CHUNK_HEADER_BYTES + MIN_STRIDE)
    throw new RangeError(
      `chunkBytes outside [${CHUNK_HEADER_BYTES + MIN_STRIDE}, ${MAX_CHUNK_BYTES}] would be refused by receivers`,
    );
  return resolved;
}
