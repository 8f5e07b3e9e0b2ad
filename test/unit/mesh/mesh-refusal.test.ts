// A run's mesh takes no message larger than the run's frames can be: the first chunk of a bigger
// announcement is refused before anything of its size is held, the sender's link closes, and
// the refusal is reported (onPeerRefused), so a volunteer stops waiting for that peer's frame.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIECE_HEADER_BYTES } from '../../../protocol/aggregate-piece.ts';
import { MAX_CHUNK_BYTES } from '../../../protocol/frame-chunks.ts';
import type { FrameError } from '../../../protocol/frame-errors.ts';
import { maxFrameBytesInRunFormat } from '../../../protocol/frame-format.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import { DEFAULT_PIPELINE, DEFAULT_RUN } from '../../../protocol/run-config.ts';
import { maxStatePieceMessageBytes } from '../../../protocol/state-piece-message.ts';
import type { PeerDownReason } from '../../../web/src/peer/mesh-errors.ts';
import { MAX_MESH_MESSAGE_BYTES, runMeshLimits } from '../../../web/src/peer/mesh-limits.ts';
import {
  closeAllPeers,
  connectAll,
  equalBytes,
  makePeer,
  pattern,
  type Relay,
  startRelay,
  until,
} from './mesh-harness.ts';

describe("a run's mesh limits", () => {
  it("cap a data-parallel run's messages at its largest aggregate or state piece, and leave a pipeline run's", () => {
    const floats = paramLayout(DEFAULT_RUN.model).totalFloats;
    const limits = runMeshLimits(DEFAULT_RUN);
    const { compression, aggregateBits } = DEFAULT_RUN.round;
    expect(limits.maxMessageBytes).toBe(
      Math.max(
        PIECE_HEADER_BYTES +
          maxFrameBytesInRunFormat(floats, { ...compression, topK: 1, bits: aggregateBits }),
        maxStatePieceMessageBytes(),
      ),
    );
    expect(limits.maxMessageBytes).toBeLessThan(MAX_MESH_MESSAGE_BYTES / 64);
    expect(runMeshLimits({ ...DEFAULT_RUN, pipeline: DEFAULT_PIPELINE })).toEqual({});
  });
});

describe('a peer announcing more than the run allows', () => {
  let relay: Relay;

  beforeAll(async () => {
    relay = await startRelay();
  });

  afterAll(async () => {
    closeAllPeers();
    await relay?.close();
  });

  it('is refused at its first chunk, loses its link, and is reported', async () => {
    const cap = runMeshLimits(DEFAULT_RUN).maxMessageBytes as number;
    // `hostile` keeps the global cap, so its own send() lets the oversized message through.
    const hostile = await makePeer(relay.url, 'refusal');
    const honest = await makePeer(relay.url, 'refusal', { limits: { maxMessageBytes: cap } });
    await connectAll([hostile, honest]);
    const refusals: [string, FrameError][] = [];
    const downs: [string, PeerDownReason][] = [];
    honest.mesh.onPeerRefused((key, error) => refusals.push([key, error]));
    honest.mesh.onPeerDown((key, reason) => downs.push([key, reason]));

    // A frame of exactly the largest size the run allows goes through.
    const frame = pattern(cap, 1);
    await hostile.mesh.send(honest.mesh.id, frame);
    await until(() => (honest.inbox.get(hostile.mesh.id)?.length ?? 0) === 1, 20_000, 'the frame');
    expect(equalBytes(honest.inbox.get(hostile.mesh.id)?.[0], frame)).toBe(true);
    expect(refusals).toEqual([]);

    // Then 64 MiB are announced: one chunk is all the honest side reads of them.
    const received = honest.mesh.traffic.bytesReceived;
    await hostile.mesh.send(honest.mesh.id, pattern(MAX_MESH_MESSAGE_BYTES, 2)).catch(() => undefined);
    await until(() => refusals.length > 0, 20_000, 'the refusal');
    expect(refusals).toEqual([
      [
        hostile.mesh.id,
        { code: 'ERR_CHUNK_TOO_LARGE', message: `a ${MAX_MESH_MESSAGE_BYTES}-byte message exceeds ${cap}` },
      ],
    ]);
    expect(downs).toEqual([[hostile.mesh.id, 'refused']]);
    expect(honest.mesh.traffic.bytesReceived - received).toBe(MAX_CHUNK_BYTES);
    expect(honest.mesh.traffic.messagesReceived).toBe(1);
    expect(honest.inbox.get(hostile.mesh.id)?.length).toBe(1);
  }, 60_000);
});
