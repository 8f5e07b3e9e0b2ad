// The relay's public HTTP API as the leaderboard reads it. Every body is parsed with its
// schema from protocol/run-api.ts and protocol/ledger-api.ts, the ones the relay's routes are
// typed by; a body that is not what the contract says fails the poll with ERR_HTTP_BODY
// instead of breaking the page further in. Anything the page must not take on trust (heads,
// entries, receipts) is then checked by the protocol/ verifiers.
import * as v from 'valibot';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { parseHttpBody } from '../../../protocol/http-body.ts';
import {
  KeysBody,
  LeaderboardBody,
  type LeaderboardRow,
  LedgerPageBody,
  RoundsPageBody,
} from '../../../protocol/ledger-api.ts';
import { entryHash, GENESIS_HASH, parseLedgerEntry } from '../../../protocol/ledger-entry.ts';
import {
  DatasetLossPart,
  LossCurvePart,
  type LossPoint,
  RunDetailBody,
  type RunSummary,
  RunsBody,
} from '../../../protocol/run-api.ts';

/** What the board reads of a run to build its model: the config, checked in full. */
const CheckedConfigPart = v.pick(RunDetailBody, ['config']);

export type GetJson = (path: string) => Promise<unknown>;

/** fetch() as JSON, failing on any non-2xx status with the path in the message. */
export async function fetchJson(path: string): Promise<unknown> {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

/** The relay answered, but not with the body its contract describes. */
export class PublicApiError extends Error {
  readonly code = 'ERR_HTTP_BODY';

  constructor(message: string) {
    super(message);
    this.name = 'PublicApiError';
  }
}

export class PublicApi {
  constructor(private readonly getJson: GetJson = fetchJson) {}

  async runs(): Promise<readonly RunSummary[]> {
    return (await this.read('/api/runs', RunsBody)).runs;
  }

  async lossCurve(runId: string): Promise<readonly LossPoint[]> {
    return (await this.read(`/api/runs/${encodeURIComponent(runId)}`, LossCurvePart)).loss;
  }

  /** Each dataset of the run's mixture and every committed round's loss on each. */
  async datasetLoss(runId: string): Promise<v.InferOutput<typeof DatasetLossPart>> {
    return this.read(`/api/runs/${encodeURIComponent(runId)}`, DatasetLossPart);
  }

  /** The run's model shape, from its config checked with every rule of the run config schema. */
  async model(runId: string): Promise<GptConfig> {
    return (await this.read(`/api/runs/${encodeURIComponent(runId)}`, CheckedConfigPart)).config.model;
  }

  async leaderboard(): Promise<readonly LeaderboardRow[]> {
    return (await this.read('/api/leaderboard', LeaderboardBody)).rows;
  }

  /** Up to `limit` entries with heights above `after`, with the relay key and the current head. */
  async ledger(after: number, limit: number): Promise<LedgerPageBody> {
    return this.read(`/api/ledger?after=${after}&limit=${limit}`, LedgerPageBody);
  }

  /** Up to `limit` committed rounds after the round record `after`, with metadata and heads. */
  async rounds(after: number, limit: number): Promise<RoundsPageBody> {
    return this.read(`/api/ledger/rounds?after=${after}&limit=${limit}`, RoundsPageBody);
  }

  /** The relay's key now and every rotation of it, each to be checked (protocol/ledger-keys.ts). */
  async keys(): Promise<KeysBody> {
    return this.read('/api/ledger/keys', KeysBody);
  }

  /** The served chain's entry hash at `height`, re-hashed from its content; GENESIS_HASH at 0. */
  async hashAt(height: number): Promise<string | null> {
    if (height === 0) return GENESIS_HASH;
    const entry = parseLedgerEntry((await this.ledger(height - 1, 1)).entries[0]);
    return entry?.height === height ? entryHash(entry) : null;
  }

  private async read<T>(path: string, schema: v.GenericSchema<unknown, T>): Promise<T> {
    const parsed = parseHttpBody(schema, await this.getJson(path));
    if (!parsed.ok) throw new PublicApiError(`${path}: ${parsed.error.message}`);
    return parsed.value;
  }
}

export const checkpointUrl = (runId: string) => `/api/runs/${encodeURIComponent(runId)}/checkpoint`;
