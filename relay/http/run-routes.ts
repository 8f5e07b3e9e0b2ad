// `/api/runs`: the run's config and progress, its committed weights, and its token shards.
// Each JSON body is typed by its schema in protocol/run-api.ts, which the pages parse it with.

import { open, stat } from 'node:fs/promises';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { MAX_AGGREGATE_PIECES, pieceRange } from '../../protocol/aggregate-piece.ts';
import type { DatasetManifest, SplitName } from '../../protocol/dataset-manifest.ts';
import type { ErrorBody } from '../../protocol/http-body.ts';
import {
  CHECKPOINT_HASH_HEADER,
  CHECKPOINT_ROUND_HEADER,
  FRAME_CLAIM_HEADER,
  type FrameUploadBody,
  type RunDetailBody,
  type RunsBody,
} from '../../protocol/run-api.ts';
import { unreachable } from '../../protocol/unreachable.ts';
import { shardFile } from '../datasets/run-data.ts';
import { Coordinator } from '../rounds/coordinator.ts';
import type { RelayRun } from '../run/relay-run.ts';
import { parseByteRange } from './byte-range.ts';
import { ifNoneMatchHits } from './if-none-match.ts';

export function runRoutes(run: RelayRun): Hono {
  const routes = new Hono();
  const known = (id: string) => {
    // The id is the caller's text: echo a bounded prefix of it, never a 10 KB path back.
    if (id !== run.id) throw new HTTPException(404, { message: `no run ${JSON.stringify(id.slice(0, 64))}` });
  };

  routes.get('/', async (c) => c.json({ runs: [await run.summary()] } satisfies RunsBody));

  routes.get('/:id', async (c) => {
    known(c.req.param('id'));
    return c.json({
      ...(await run.summary()),
      config: run.config,
      loss: await run.lossCurve(),
      ...run.datasetReport(),
    } satisfies RunDetailBody);
  });

  routes.get('/:id/checkpoint', async (c) => {
    known(c.req.param('id'));
    const latest = await run.committedCheckpoint();
    if (!latest) throw new HTTPException(404, { message: 'no checkpoint stored yet' });
    const etag = `"${latest.modelHash}"`;
    c.header('etag', etag);
    c.header(CHECKPOINT_ROUND_HEADER, String(latest.round));
    c.header(CHECKPOINT_HASH_HEADER, latest.modelHash);
    c.header('cache-control', 'no-cache');
    if (ifNoneMatchHits(c.req.header('if-none-match'), etag)) return c.body(null, 304);
    c.header('content-type', 'application/octet-stream');
    c.header('content-disposition', `attachment; filename="${run.id}-round-${latest.round}.safetensors"`);
    return c.body(await run.checkpoints.read(latest.stored));
  });

  // A member's frame for the open round, signed by its author (relay/rounds/round-frames.ts).
  // The body limit (app.ts) is the run's frame size; the coordinator checks the rest.
  routes.put('/:id/rounds/:round/frames/:peer', async (c) => {
    known(c.req.param('id'));
    const coordinator = roundsOnly(run);
    const round = roundParam(c.req.param('round'));
    const claim = c.req.header(FRAME_CLAIM_HEADER) ?? '';
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const outcome = await coordinator.upload(c.req.param('peer'), round, bytes, claim);
    switch (outcome.kind) {
      case 'stored':
        return c.json({ stored: true, frameHash: outcome.frameHash } satisfies FrameUploadBody, 201);
      case 'duplicate':
        return c.json({ stored: false, frameHash: outcome.frameHash } satisfies FrameUploadBody);
      case 'equivocation':
        return c.json(
          {
            error: {
              code: 'ERR_EQUIVOCATION',
              message: 'a different frame was signed for this round: the key is excluded',
            },
          } satisfies ErrorBody,
          409,
        );
      case 'refused':
        return c.json(
          { error: { code: outcome.code, message: outcome.message } } satisfies ErrorBody,
          outcome.status,
        );
      default:
        return unreachable(outcome, 'upload outcome');
    }
  });

  // A checked member's starting state for a committed round (relay/rounds/verification.ts). It
  // must hash to what the member's signed manifest named; the body limit (app.ts) is its size.
  routes.put('/:id/rounds/:round/local-state/:peer', async (c) => {
    known(c.req.param('id'));
    const coordinator = roundsOnly(run);
    const round = roundParam(c.req.param('round'));
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const outcome = await coordinator.revealState(c.req.param('peer'), round, bytes);
    if (outcome.kind === 'accepted') return c.json({ accepted: true }, 202);
    return c.json(
      { error: { code: outcome.code, message: outcome.message } } satisfies ErrorBody,
      outcome.status,
    );
  });

  // A counted frame of the last committed round, for a peer whose mesh copy is missing or
  // differs from the one the relay counted.
  routes.get('/:id/rounds/:round/frames/:peer', (c) => {
    known(c.req.param('id'));
    const round = roundParam(c.req.param('round'));
    const held = roundsOnly(run).committedFrames;
    const frame = held?.round === round ? held.frames.get(c.req.param('peer')) : undefined;
    if (!frame) throw new HTTPException(404, { message: `no counted frame of that peer in round ${round}` });
    c.header('content-type', 'application/octet-stream');
    c.header('cache-control', 'public, max-age=3600, immutable');
    return c.body(frame.slice());
  });

  // The last committed round's aggregate frame, whole or one piece of `of` (aggregate-piece.ts):
  // the member that owns a piece in its group fetches it here once and passes it on.
  routes.get('/:id/rounds/:round/aggregate', (c) => {
    known(c.req.param('id'));
    const round = roundParam(c.req.param('round'));
    const held = roundsOnly(run).committedFrames;
    if (held?.round !== round)
      throw new HTTPException(404, { message: `no aggregate of round ${round} held` });
    const piece = c.req.query('piece');
    const of = c.req.query('of');
    let body = held.aggregate;
    if (piece !== undefined || of !== undefined) {
      const index = decimal(piece);
      const count = decimal(of);
      if (
        !Number.isSafeInteger(index) ||
        !Number.isSafeInteger(count) ||
        count < 1 ||
        count > MAX_AGGREGATE_PIECES ||
        index < 0 ||
        index >= count
      )
        throw new HTTPException(400, {
          message: `piece ${String(piece).slice(0, 12)} of ${String(of).slice(0, 12)}`,
        });
      const { start, end } = pieceRange(body.length, count, index);
      body = body.subarray(start, end);
    }
    c.header('content-type', 'application/octet-stream');
    c.header('cache-control', 'public, max-age=3600, immutable');
    return c.body(body.slice());
  });

  // A piece of the committed state file with its proof (protocol/state-piece-message.ts), for a
  // volunteer catching up whose peers did not give it. Only the newest committed state is
  // served: a volunteer whose download a commit overtook is told so by its own code, and
  // fetches the newest.
  routes.get('/:id/state/:root/pieces/:index', (c) => {
    known(c.req.param('id'));
    const piece = roundsOnly(run).statePiece(c.req.param('root'), decimal(c.req.param('index')));
    if (!piece)
      return c.json(
        {
          error: {
            code: 'ERR_STATE_NOT_SERVED',
            message:
              'no such piece of the committed state the relay serves (a newer round may have committed)',
          },
        } satisfies ErrorBody,
        404,
      );
    c.header('content-type', 'application/octet-stream');
    c.header('cache-control', 'public, max-age=3600, immutable');
    return c.body(piece.slice());
  });

  routes.get('/:id/dataset', (c) => {
    known(c.req.param('id'));
    return c.json(run.dataset.manifest satisfies DatasetManifest);
  });

  routes.get('/:id/shards/:n', async (c) => {
    known(c.req.param('id'));
    // One spelling per shard, so caches and logs see one URL for it: `0`, not `00` or `0x0`.
    const splitParam = c.req.query('split') ?? 'train';
    if (splitParam !== 'train' && splitParam !== 'val')
      throw new HTTPException(400, { message: 'split must be train or val' });
    const split: SplitName = splitParam;
    const n = /^(0|[1-9]\d{0,8})$/.test(c.req.param('n')) ? Number(c.req.param('n')) : Number.NaN;
    // A mixture's shards are its datasets', end to end (relay/datasets/run-data.ts).
    const file = Number.isSafeInteger(n) ? shardFile(run.dataset, split, n) : null;
    if (!file) throw new HTTPException(404, { message: `no ${split} shard ${c.req.param('n')}` });
    const { size } = await stat(file);
    const range = parseByteRange(c.req.header('range'), size);
    c.header('accept-ranges', 'bytes');
    c.header('content-type', 'application/octet-stream');
    c.header('cache-control', 'public, max-age=31536000, immutable');
    if (range.kind === 'unsatisfiable') {
      c.header('content-range', `bytes */${size}`);
      return c.body(null, 416);
    }
    const start = range.kind === 'partial' ? range.start : 0;
    const end = range.kind === 'partial' ? range.end : size - 1;
    const bytes = await readSlice(file, start, end - start + 1);
    if (range.kind === 'partial') {
      c.header('content-range', `bytes ${start}-${end}/${size}`);
      return c.body(bytes, 206);
    }
    return c.body(bytes);
  });

  return routes;
}

async function readSlice(file: string, start: number, length: number): Promise<Uint8Array<ArrayBuffer>> {
  const handle = await open(file, 'r');
  try {
    const bytes = new Uint8Array(length);
    await handle.read(bytes, 0, length, start);
    return bytes;
  } finally {
    await handle.close();
  }
}

function roundsOnly(run: RelayRun): Coordinator {
  if (!(run.coordinator instanceof Coordinator))
    throw new HTTPException(404, { message: 'this run is pipeline parallel: it has no round frames' });
  return run.coordinator;
}

/** One spelling per round number, so a cache sees one URL for it. */
function roundParam(text: string): number {
  if (!/^(0|[1-9]\d{0,9})$/.test(text))
    throw new HTTPException(400, { message: 'round must be a round number' });
  return Number(text);
}

/** A plain decimal count ("0x1", "1e1", "01" and "" are not), else NaN. */
function decimal(text: string | undefined): number {
  return text !== undefined && /^(0|[1-9]\d{0,8})$/.test(text) ? Number(text) : Number.NaN;
}
