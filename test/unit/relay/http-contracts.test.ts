// Every JSON body the relay serves is what its schema in protocol/ says, and the clients that
// read it (the leaderboard's PublicApi, the volunteer's RelayApi) parse the relay's real
// answers with those schemas, while a relay answering garbage gets a typed error, not a crash.

import type * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creditsOf, FLOPS_PER_CREDIT } from '../../../protocol/credits.ts';
import { DatasetManifestSchema } from '../../../protocol/dataset-manifest.ts';
import { ErrorBody, parseHttpBody } from '../../../protocol/http-body.ts';
import {
  KeysBody,
  LeaderboardBody,
  LedgerPageBody,
  MAX_LEDGER_PAGE,
  RelayBody,
  RoundsPageBody,
} from '../../../protocol/ledger-api.ts';
import { parseLedgerEntry } from '../../../protocol/ledger-entry.ts';
import { verifyHead } from '../../../protocol/ledger-signatures.ts';
import { parseRoundMetadata } from '../../../protocol/round-metadata.ts';
import {
  CHECKPOINT_HASH_HEADER,
  CHECKPOINT_ROUND_HEADER,
  FrameUploadBody,
  HealthBody,
  RunDetailBody,
  RunsBody,
} from '../../../protocol/run-api.ts';
import type { RelayHandle } from '../../../relay/server.ts';
import { PublicApi, PublicApiError } from '../../../web/src/leaderboard/public-api.ts';
import { RelayApi, RelayApiError } from '../../../web/src/peer/relay-api.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';
import { credit, peerKey, roundInput } from '../ledger/fixtures.ts';

let relay: RelayHandle;
let runId = '';
const get = (path: string, init?: RequestInit) => relay.app.request(path, init);
const body = async (path: string, init?: RequestInit) => (await get(path, init)).json() as Promise<unknown>;

/** `schema` reads `json`, and what it reads is `json` itself: the contract drops nothing the relay sends. */
function expectBody<T>(schema: v.GenericSchema<unknown, T>, json: unknown): T {
  const parsed = parseHttpBody(schema, json);
  if (!parsed.ok) throw new Error(parsed.error.message);
  expect(parsed.value).toEqual(json);
  return parsed.value;
}

beforeAll(async () => {
  relay = await startTestRelay(await smallDataset());
  runId = relay.run.id;
  // Two credited rounds straight into the relay's ledger, so the leaderboard and the audit
  // stream have rows to serve.
  await relay.run.ledger.touchPeer(peerKey(0), 'ada', 1500);
  await relay.run.ledger.commitRound(roundInput(runId, 0, [credit(0, 100), credit(1, 300)]));
  await relay.run.ledger.commitRound(roundInput(runId, 1, [credit(0, 200)]));
});
afterAll(async () => {
  await relay?.close();
});

describe('what the relay sends', () => {
  it('matches the run routes’ schemas', async () => {
    expectBody(HealthBody, await body('/healthz'));
    const { runs } = expectBody(RunsBody, await body('/api/runs'));
    expect(runs.map((r) => r.id)).toEqual([runId]);
    const detail = expectBody(RunDetailBody, await body(`/api/runs/${runId}`));
    expect(detail.loss.map((p) => p.round)).toEqual([0, 1]);
    // The volunteer reads the manifest with the schema the relay reads it from disk with.
    const manifest = relay.run.dataset.manifest;
    const listing = parseHttpBody(DatasetManifestSchema, await body(`/api/runs/${runId}/dataset`));
    expect(listing).toMatchObject({ ok: true, value: { vocabSize: manifest.vocabSize } });
    if (listing.ok)
      expect(listing.value.splits.train.shards.map((s) => s.tokens)).toEqual(
        manifest.splits.train.shards.map((s) => s.tokens),
      );
  });

  it('names the checkpoint it serves in the headers the volunteer reads', async () => {
    const response = await get(`/api/runs/${runId}/checkpoint`);
    expect(response.headers.get(CHECKPOINT_HASH_HEADER)).toBe(relay.run.checkpoints.latest()?.modelHash);
    expect(response.headers.get(CHECKPOINT_ROUND_HEADER)).toBe('-1');
  });

  it('matches the ledger routes’ schemas', async () => {
    const board = expectBody(LeaderboardBody, await body('/api/leaderboard'));
    expect(board.rows.map((r) => r.publicKey)).toEqual([peerKey(0), peerKey(1)]);
    for (const row of board.rows) expect(row.verifiedCredits).toBe(creditsOf(row.verifiedFlops));
    const page = expectBody(LedgerPageBody, await body('/api/ledger?after=0'));
    expect(page.entries).toHaveLength(3);
    for (const entry of page.entries) expect(parseLedgerEntry(entry)).not.toBeNull();
    expect(await verifyHead(page.head, page.relayKey)).toBe(true);
    const rounds = expectBody(RoundsPageBody, await body('/api/ledger/rounds?after=0'));
    expect(rounds.rounds.map((r) => parseRoundMetadata(r.metadata)?.round)).toEqual([0, 1]);
    for (const r of rounds.rounds) expect(await verifyHead(r.head, rounds.relayKey)).toBe(true);
    expectBody(RelayBody, await body('/api/relay'));
    // A relay that never rotated its key: the key, and no rotation.
    expect(expectBody(KeysBody, await body('/api/ledger/keys'))).toEqual({
      relayKey: page.relayKey,
      rotations: [],
    });
  });

  it('caps an audit page at MAX_LEDGER_PAGE, and says which limit applied', async () => {
    for (const [asked, applied] of [
      [`${MAX_LEDGER_PAGE + 1}`, MAX_LEDGER_PAGE],
      [`${MAX_LEDGER_PAGE * 10}`, MAX_LEDGER_PAGE],
      ['9'.repeat(40), MAX_LEDGER_PAGE],
      [`${MAX_LEDGER_PAGE}`, MAX_LEDGER_PAGE],
      ['2', 2],
      ['0', 1],
    ] as const) {
      const page = expectBody(LedgerPageBody, await body(`/api/ledger?after=0&limit=${asked}`));
      expect(page.limit, asked).toBe(applied);
      expect(page.entries.length).toBeLessThanOrEqual(applied);
    }
    // Without a limit, the largest page.
    expect(expectBody(LedgerPageBody, await body('/api/ledger?after=0')).limit).toBe(MAX_LEDGER_PAGE);
    // Two of the three entries on a page of 2: the cap is applied, not only reported.
    expect(expectBody(LedgerPageBody, await body('/api/ledger?after=0&limit=2')).entries).toHaveLength(2);
  });

  it('answers errors with ErrorBody', async () => {
    expectBody(ErrorBody, await body('/api/nothing'));
    expectBody(ErrorBody, await body('/api/runs/nope'));
    expectBody(ErrorBody, await body('/api/ledger?after=-1'));
  });
});

describe('what the clients read', () => {
  it('the leaderboard reads the relay’s answers', async () => {
    const api = new PublicApi((path) => body(path));
    const [run] = await api.runs();
    expect(run?.roundInProgress === null || typeof run?.roundInProgress === 'object').toBe(true);
    expect(await api.lossCurve(runId)).toHaveLength(2);
    expect(await api.leaderboard()).toHaveLength(2);
    expect((await api.ledger(0, 2)).entries).toHaveLength(2);
  });

  it('the volunteer reads the relay’s answers', async () => {
    const api = new RelayApi('http://relay', runId, async (input, init) =>
      relay.app.request(String(input), init),
    );
    expect((await api.lossCurve()).map((p) => p.trainLoss)).toEqual([4, 3.9]);
    expect(await api.tokens({ start: 0, end: 8 })).toHaveLength(8);
  });

  it('turns a garbage answer into a typed error', async () => {
    for (const garbage of [null, 'runs', [], { runs: [{ id: 'x' }] }, { rows: 'none' }, { loss: [{}] }]) {
      const api = new PublicApi(async () => garbage);
      await expect(api.runs()).rejects.toBeInstanceOf(PublicApiError);
      await expect(api.leaderboard()).rejects.toMatchObject({ code: 'ERR_HTTP_BODY' });
      await expect(api.lossCurve('run')).rejects.toMatchObject({ code: 'ERR_HTTP_BODY' });
      await expect(api.ledger(0, 1)).rejects.toMatchObject({ code: 'ERR_HTTP_BODY' });
    }
    const answer = (json: unknown) => (async () => new Response(JSON.stringify(json))) as typeof fetch;
    const volunteer = new RelayApi('http://relay', 'run', answer({ vocabSize: 'many' }));
    await expect(volunteer.tokens({ start: 0, end: 1 })).rejects.toMatchObject({ code: 'ERR_RELAY_DATA' });
    const notJson = new RelayApi('http://relay', 'run', (async () => new Response('<html>')) as typeof fetch);
    await expect(notJson.lossCurve()).rejects.toBeInstanceOf(RelayApiError);
  });
});

describe('the schemas refuse malformed bodies', () => {
  it('refuses a run summary whose roundInProgress is a boolean', async () => {
    const [run] = expectBody(RunsBody, await body('/api/runs')).runs;
    const parsed = parseHttpBody(RunsBody, { runs: [{ ...run, roundInProgress: true }] });
    expect(parsed).toMatchObject({ ok: false, error: { code: 'ERR_HTTP_BODY' } });
    if (!parsed.ok) expect(parsed.error.message).toContain('runs.0.roundInProgress');
  });

  it('refuses a field of the wrong type, a missing one, and non-objects', async () => {
    const board = expectBody(LeaderboardBody, await body('/api/leaderboard'));
    const [row] = board.rows;
    const bad = [
      { ...board, rows: [{ ...row, verifiedCredits: -1 }] },
      { ...board, rows: [{ ...row, verifiedFlops: '1e12' }] },
      { ...board, rows: [{ ...row, banned: 'no' }] },
      { ...board, rows: [{ ...row, lastSeen: 'yesterday' }] },
      { runId: board.runId },
      null,
      'rows',
      JSON.parse('{"__proto__": {"rows": []}}'),
    ];
    for (const json of bad) expect(parseHttpBody(LeaderboardBody, json).ok).toBe(false);
    const page = expectBody(LedgerPageBody, await body('/api/ledger?after=0'));
    const tooLong = { ...page, entries: Array.from({ length: MAX_LEDGER_PAGE + 1 }, () => ({})) };
    expect(parseHttpBody(LedgerPageBody, tooLong).ok).toBe(false);
    expect(parseHttpBody(LedgerPageBody, { ...page, relayKey: 'not a key' }).ok).toBe(false);
    const keys = expectBody(KeysBody, await body('/api/ledger/keys'));
    for (const json of [
      { ...keys, relayKey: 'not a key' },
      { ...keys, rotations: {} },
      { relayKey: keys.relayKey },
    ])
      expect(parseHttpBody(KeysBody, json).ok).toBe(false);
    const rounds = expectBody(RoundsPageBody, await body('/api/ledger/rounds'));
    for (const json of [
      { ...rounds, rounds: [{ seq: 0, metadata: {}, head: null }] },
      { ...rounds, rounds: [{ seq: 1, metadata: {} }] },
      {
        ...rounds,
        rounds: Array.from({ length: MAX_LEDGER_PAGE + 1 }, (_, i) => ({
          seq: i + 1,
          metadata: 1,
          head: null,
        })),
      },
      { ...rounds, limit: 0 },
      [],
    ])
      expect(parseHttpBody(RoundsPageBody, json).ok).toBe(false);
    expect(parseHttpBody(DatasetManifestSchema, { vocabSize: 0, splits: {} }).ok).toBe(false);
    expect(parseHttpBody(FrameUploadBody, { stored: true }).ok).toBe(false);
  });
});

it('counts one credit per 1e12 FLOPs, exactly as the ledger stores them', () => {
  expect(FLOPS_PER_CREDIT).toBe(1e12);
  expect(creditsOf('0')).toBe(0);
  expect(creditsOf('1500000000000')).toBe(1.5);
  expect(creditsOf((6n * 124_000_000n * 1200n).toString())).toBeCloseTo((6 * 124e6 * 1200) / 1e12, 12);
});
