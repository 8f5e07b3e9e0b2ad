// The relay's HTTP routes through `app.request()`: no port, the real run, ledger and
// checkpoints behind them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_CLAIM_HEADER } from '../../../protocol/run-api.ts';
import { decodeStatePiece } from '../../../protocol/state-piece-message.ts';
import { decodeTokenShard } from '../../../protocol/token-shard.ts';
import type { RelayHandle } from '../../../relay/server.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';

let relay: RelayHandle;
let runId = '';
const get = (path: string, init?: RequestInit) => relay.app.request(path, init);

beforeAll(async () => {
  relay = await startTestRelay(await smallDataset());
  runId = relay.run.id;
});
afterAll(async () => {
  await relay?.close();
});

describe('relay routes', () => {
  it('reports health, runs and the run with its config', async () => {
    const health = await (await get('/healthz')).json();
    expect(health).toMatchObject({ ok: true, runId, committedRound: -1 });
    const { runs } = (await (await get('/api/runs')).json()) as {
      runs: { id: string; paramCount: number }[];
    };
    expect(runs.map((r) => r.id)).toEqual([runId]);
    const detail = (await (await get(`/api/runs/${runId}`)).json()) as { config: unknown; loss: unknown[] };
    expect(detail.config).toEqual(relay.run.config);
    expect(detail.loss).toEqual([]);
    expect((await get('/api/runs/nope')).status).toBe(404);
  });

  it('puts security headers on pages and API answers alike', async () => {
    for (const path of ['/healthz', '/api/runs', '/nowhere']) {
      const response = await get(path);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
    }
  });

  it('serves θ_0 as safetensors under its model hash, with ETag revalidation', async () => {
    const response = await get(`/api/runs/${runId}/checkpoint`);
    expect(response.status).toBe(200);
    const hash = relay.run.coordinator.lastCommitted.modelHash;
    expect(response.headers.get('etag')).toBe(`"${hash}"`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect((await relay.run.checkpoints.check(bytes, hash)).ok).toBe(true);
    const again = await get(`/api/runs/${runId}/checkpoint`, { headers: { 'if-none-match': `"${hash}"` } });
    expect(again.status).toBe(304);
    // RFC 9110, 13.1.2: "*" matches any current representation, a list matches when one of its
    // tags does, weakly compared; anything else gets the weights.
    const other = `"${'0'.repeat(64)}"`;
    for (const [header, status] of [
      ['*', 304],
      [' * ', 304],
      [`${other}, "${hash}"`, 304],
      [`W/"${hash}"`, 304],
      [`${other},W/"${hash}" `, 304],
      [other, 200],
      [hash, 200],
      [`"${hash}`, 200],
      ['', 200],
      ['**', 200],
    ] as const) {
      const answer = await get(`/api/runs/${runId}/checkpoint`, { headers: { 'if-none-match': header } });
      expect(answer.status, header).toBe(status);
      // A 304 still names the representation the client holds.
      expect(answer.headers.get('etag')).toBe(`"${hash}"`);
      await answer.arrayBuffer();
    }
  });

  it('takes frames only from members of an open round, no larger than a frame of the run', async () => {
    const frames = `/api/runs/${runId}/rounds/0/frames/${'A'.repeat(43)}`;
    const put = (path: string, body: Uint8Array) =>
      get(path, {
        method: 'PUT',
        body: body as Uint8Array<ArrayBuffer>,
        headers: { [FRAME_CLAIM_HEADER]: 'x' },
      });
    expect((await put(frames, new Uint8Array(100))).status).toBe(403); // no round is open
    expect((await put(frames, new Uint8Array(relay.run.maxFrameBytes + 1))).status).toBe(413);
    // A round that is no round number is a bad request.
    for (const round of ['abc', '0x0', '1e400', '-2', '01'])
      expect(
        (await put(`/api/runs/${runId}/rounds/${round}/frames/x`, new Uint8Array(1))).status,
        round,
      ).toBe(400);
    expect((await get(frames)).status).toBe(404); // nothing committed yet
    // An unknown run id is echoed back only in part.
    const longId = await get(`/api/runs/${'x'.repeat(10_000)}`);
    expect(longId.status).toBe(404);
    expect((await longId.text()).length).toBeLessThan(300);
  });

  it('serves token shards whole and by byte range', async () => {
    const whole = await get(`/api/runs/${runId}/shards/0`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    const bytes = new Uint8Array(await whole.arrayBuffer());
    const decoded = decodeTokenShard(bytes);
    expect(decoded.ok).toBe(true);
    const part = await get(`/api/runs/${runId}/shards/0`, { headers: { range: 'bytes=32-63' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 32-63/${bytes.length}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.subarray(32, 64));
    const suffix = await get(`/api/runs/${runId}/shards/0`, { headers: { range: 'bytes=-10' } });
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(bytes.subarray(bytes.length - 10));
    const beyond = await get(`/api/runs/${runId}/shards/0`, { headers: { range: `bytes=${bytes.length}-` } });
    expect(beyond.status).toBe(416);
    expect((await get(`/api/runs/${runId}/shards/0?split=val`)).status).toBe(200);
    expect((await get(`/api/runs/${runId}/shards/99`)).status).toBe(404);
    expect((await get(`/api/runs/${runId}/shards/-1`)).status).toBe(404);
    // One spelling per shard, and no split but the two there are.
    for (const n of ['00', '0x0', '0.0', '%200', '1e0'])
      expect((await get(`/api/runs/${runId}/shards/${n}`)).status, n).toBe(404);
    for (const split of ['VAL', '__proto__', '../x'])
      expect((await get(`/api/runs/${runId}/shards/0?split=${split}`)).status, split).toBe(400);
  });

  it('serves pieces of the state θ_0 with proofs, one spelling per piece, and no aggregate before a round', async () => {
    // A volunteer at round -1 with another hash is told to resync: the resync names the tree.
    await new Promise((resolve) => setTimeout(resolve, 100)); // the tree of θ_0 is computed at start
    const root = (
      relay.run.coordinator as unknown as { served: { tree: { root: string; pieceCount: number } } }
    ).served.tree;
    const first = await get(`/api/runs/${runId}/state/${root.root}/pieces/0`);
    expect(first.status).toBe(200);
    const decoded = decodeStatePiece(new Uint8Array(await first.arrayBuffer()));
    expect(decoded.ok && decoded.value.index).toBe(0);
    for (const index of ['01', '0x0', '1e0', '-1', String(root.pieceCount), '%200'])
      expect((await get(`/api/runs/${runId}/state/${root.root}/pieces/${index}`)).status, index).toBe(404);
    // Another state's piece (a download a commit overtook) is told apart by its code.
    const other = await get(`/api/runs/${runId}/state/${'0'.repeat(64)}/pieces/0`);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('ERR_STATE_NOT_SERVED');
    expect((await get(`/api/runs/${runId}/rounds/0/aggregate`)).status).toBe(404);
    expect((await get(`/api/runs/${runId}/rounds/0/aggregate?piece=0x1&of=2`)).status).toBe(404);
  });

  it('pages the ledger and refuses malformed queries', async () => {
    const ledger = await (await get('/api/ledger?after=0&limit=10')).json();
    expect(ledger).toMatchObject({ relayKey: relay.run.relayKey, entries: [] });
    for (const bad of ['after=-1', 'after=abc', 'limit=1e9', 'after=__proto__'])
      expect((await get(`/api/ledger?${bad}`)).status).toBe(400);
    expect((await (await get('/api/leaderboard')).json()).rows).toEqual([]);
  });

  it('exposes Prometheus metrics', async () => {
    const response = await get('/metrics');
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain('potluck_committed_round -1');
    expect(text).toContain('potluck_swarm_peers 0');
    // What an operator alerts on (README, "What to watch in /metrics"), each with its help text.
    for (const name of [
      'potluck_round_duration_seconds',
      'potluck_round_seated_fraction',
      'potluck_round_expected_seconds',
      'potluck_rounds_opened_total',
      'potluck_rounds_aborted_total',
      'potluck_contributions_rejected_total',
      'potluck_contributions_counted_total',
      'potluck_bans_total',
      'potluck_last_commit_timestamp_seconds',
    ])
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
    expect(text).toContain('potluck_contributions_rejected_total{reason="late"} 0');
  });

  it('answers unknown routes with a typed 404', async () => {
    const response = await get('/api/nothing');
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'ERR_NOT_FOUND' } });
  });
});
