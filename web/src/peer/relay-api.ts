// What a volunteer fetches from the relay over HTTP: the run config (checked against the hash
// the relay's welcome named), the tokens of an assigned range (byte ranges of the shard files,
// so a round downloads only its own tokens), the committed state, and the state upload. The
// same code runs in a browser and in Node 20 (both have fetch). JSON bodies are parsed with
// their schemas in protocol/run-api.ts, the ones the relay's routes are typed by. When a run has
// several relays the base URL may change under it (relay-rotation.ts): each request goes to the
// relay in use as it is made, since a relay that died answers nothing.

import type * as v from 'valibot';
import { type DatasetManifest, DatasetManifestSchema } from '../../../protocol/dataset-manifest.ts';
import { ErrorBody, parseHttpBody } from '../../../protocol/http-body.ts';
import { LeaderboardBody, type LeaderboardRow } from '../../../protocol/ledger-api.ts';
import {
  CHECKPOINT_HASH_HEADER,
  FRAME_CLAIM_HEADER,
  LossCurvePart,
  type LossPoint,
  RunConfigPart,
  type RunSummary,
  RunsBody,
} from '../../../protocol/run-api.ts';
import { parseRunConfig, type RunConfig, runIdentity } from '../../../protocol/run-config.ts';
import { decodeStatePiece } from '../../../protocol/state-piece-message.ts';
import {
  bytesPerToken,
  decodeTokenIds,
  readTokenShardHeader,
  type TokenShardHeader,
} from '../../../protocol/token-shard.ts';

export class RelayApiError extends Error {
  constructor(
    readonly code: 'ERR_RELAY_HTTP' | 'ERR_RELAY_CONFIG' | 'ERR_RELAY_DATA' | 'ERR_FRAME_LATE',
    message: string,
  ) {
    super(message);
    this.name = 'RelayApiError';
  }
}

/** The relay decided the round before this peer's frame arrived: the work is not counted. */
export function isLateFrame(error: unknown): error is RelayApiError {
  return error instanceof RelayApiError && error.code === 'ERR_FRAME_LATE';
}

/** The code of a relay's error body (ErrorBody), or null for anything else; never throws. */
function relayErrorCode(text: string): string | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = parseHttpBody(ErrorBody, json);
  return parsed.ok ? parsed.value.error.code : null;
}

/** Bytes of a shard's head fetched to read its header (MAX_HEADER_BYTES would be safe; 64 covers v1). */
const HEADER_PROBE_BYTES = 64;

/**
 * Waits before each retry of a request answered 503 (and of a GET whose request failed); then
 * the error stands. The last wait covers a relay of a cluster between leaders. A 503's
 * Retry-After, when longer, is waited instead.
 */
const RETRY_MS = [250, 1_000, 3_000, 5_000];
/** A Retry-After past this is not waited for: the error stands. */
const MAX_RETRY_AFTER_MS = 10_000;
/** How long in all a request answered 503 with a Retry-After is sent again. */
const BUSY_RETRY_MS = 30_000;

/** Waits `ms`, or rejects with the signal's reason as soon as it is aborted. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', stop, { once: true });
  });
}

/** The relay's runs (`/api/runs`), before joining one: what the identity must prove for each. */
export async function listRuns(
  base: string,
  fetchImpl: typeof fetch = (input, init) => fetch(input, init),
): Promise<readonly RunSummary[]> {
  const response = await fetchImpl(`${base}/api/runs`);
  if (!response.ok) throw new RelayApiError('ERR_RELAY_HTTP', `/api/runs: HTTP ${response.status}`);
  const parsed = parseHttpBody(RunsBody, await response.json());
  if (!parsed.ok) throw new RelayApiError('ERR_RELAY_DATA', `/api/runs: ${parsed.error.message}`);
  return parsed.value.runs;
}

export class RelayApi {
  private readonly headers = new Map<number, TokenShardHeader>();
  private listing: DatasetManifest | null = null;

  private readonly base: () => string;

  constructor(
    /** http(s)://host:port of the relay, or what gives the relay in use at each request. */
    base: string | (() => string),
    private readonly runId: string,
    private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  ) {
    this.base = typeof base === 'string' ? () => base : base;
  }

  /** The run config, refused unless it hashes to `configHash` from the welcome. */
  async runConfig(configHash: string): Promise<RunConfig> {
    const body = await this.json(`/api/runs/${this.runId}`, RunConfigPart);
    const config = parseRunConfig(body.config);
    if (!config)
      throw new RelayApiError('ERR_RELAY_CONFIG', 'the relay served a run config this volunteer cannot read');
    const { configHash: actual } = await runIdentity(config);
    if (actual !== configHash)
      throw new RelayApiError(
        'ERR_RELAY_CONFIG',
        `the run config hashes to ${actual}, the relay announced ${configHash}`,
      );
    return config;
  }

  /** The run's loss curve: one point per committed round. */
  async lossCurve(): Promise<LossPoint[]> {
    return (await this.json(`/api/runs/${this.runId}`, LossCurvePart)).loss;
  }

  /**
   * The relay's leaderboard of this run: the credits its ledger gives each key. Refused
   * (ERR_RELAY_DATA) when the relay answers for another run.
   */
  async leaderboard(): Promise<LeaderboardRow[]> {
    const body = await this.json('/api/leaderboard', LeaderboardBody);
    if (body.runId !== this.runId)
      throw new RelayApiError('ERR_RELAY_DATA', `the leaderboard is of run ${body.runId}, not ${this.runId}`);
    return body.rows;
  }

  /** Tokens [start, end) of the training split, across shard files as needed. */
  async tokens(
    range: { start: number; end: number },
    onBytes?: (bytes: number) => void,
  ): Promise<Uint16Array> {
    const listing = await this.shardListing();
    const out = new Uint16Array(Math.max(0, range.end - range.start));
    let shardStart = 0;
    for (const [n, shard] of listing.splits.train.shards.entries()) {
      const shardEnd = shardStart + shard.tokens;
      const from = Math.max(range.start, shardStart);
      const to = Math.min(range.end, shardEnd);
      if (from < to) {
        const header = await this.shardHeader(n);
        const width = bytesPerToken(header.dtype);
        const first = header.headerLength + (from - shardStart) * width;
        const bytes = await this.bytes(
          `/api/runs/${this.runId}/shards/${n}`,
          first,
          first + (to - from) * width - 1,
        );
        onBytes?.(bytes.length);
        decodeTokenIds(bytes.subarray(0, (to - from) * width), header.dtype, out, from - range.start);
      }
      shardStart = shardEnd;
    }
    return out;
  }

  /**
   * The relay's newest committed state, if it is the one with `hash`; null if it has another.
   * `onProgress` sees the bytes as they arrive (weights are the one large download).
   */
  async state(
    hash: string,
    onProgress?: (received: number, total: number) => void,
  ): Promise<Uint8Array | null> {
    const response = await this.fetchImpl(`${this.base()}/api/runs/${this.runId}/checkpoint`);
    if (!response.ok) throw new RelayApiError('ERR_RELAY_HTTP', `checkpoint: HTTP ${response.status}`);
    if (response.headers.get(CHECKPOINT_HASH_HEADER) !== hash || !response.body) {
      await response.body?.cancel();
      return null;
    }
    const total = Number(response.headers.get('content-length') ?? 0);
    const parts: Uint8Array[] = [];
    let received = 0;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      received += value.byteLength;
      onProgress?.(received, total);
    }
    const bytes = new Uint8Array(received);
    let at = 0;
    for (const part of parts) {
      bytes.set(part, at);
      at += part.byteLength;
    }
    return bytes;
  }

  /** This peer's frame for the open round, with its signed claim: the copy the relay counts. */
  /** `signal`: the round was aborted; stop sending (and retrying) its frame. */
  async uploadFrame(
    round: number,
    peer: string,
    bytes: Uint8Array,
    claim: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const response = await this.send(this.framePath(round, peer), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', [FRAME_CLAIM_HEADER]: claim },
      body: bytes as Uint8Array<ArrayBuffer>,
      signal,
    });
    if (response.ok) return;
    const text = await response.text().catch(() => '');
    // The round closed without this frame (this GPU was slower than the round's grace period).
    if (response.status === 409 && relayErrorCode(text) === 'ERR_FRAME_LATE')
      throw new RelayApiError('ERR_FRAME_LATE', `round ${round} was decided before this frame arrived`);
    throw new RelayApiError('ERR_RELAY_HTTP', `frame upload: HTTP ${response.status} ${text.slice(0, 200)}`);
  }

  /** This peer's starting state of a round the relay checks (relay/rounds/verification.ts). */
  async uploadLocalState(round: number, peer: string, bytes: Uint8Array): Promise<void> {
    const path = `/api/runs/${this.runId}/rounds/${round}/local-state/${encodeURIComponent(peer)}`;
    const response = await this.send(path, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw new RelayApiError(
        'ERR_RELAY_HTTP',
        `state upload: HTTP ${response.status} ${text.slice(0, 200)}`,
      );
    }
  }

  /** A frame the relay counted in the last committed round, for one this peer lacks. */
  async countedFrame(round: number, peer: string): Promise<Uint8Array> {
    const response = await this.send(this.framePath(round, peer));
    if (!response.ok) throw new RelayApiError('ERR_RELAY_HTTP', `counted frame: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Piece `index` of `count` of a committed round's aggregate frame (aggregate-piece.ts). */
  async aggregatePiece(round: number, index: number, count: number): Promise<Uint8Array> {
    const response = await this.send(
      `/api/runs/${this.runId}/rounds/${round}/aggregate?piece=${index}&of=${count}`,
    );
    if (!response.ok) throw new RelayApiError('ERR_RELAY_HTTP', `aggregate piece: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Piece `index` of the committed state whose tree root is `root`, with its proof. */
  async statePiece(root: string, index: number): Promise<{ bytes: Uint8Array; proof: unknown }> {
    const response = await this.send(`/api/runs/${this.runId}/state/${root}/pieces/${index}`);
    if (!response.ok) throw new RelayApiError('ERR_RELAY_HTTP', `state piece: HTTP ${response.status}`);
    const decoded = decodeStatePiece(new Uint8Array(await response.arrayBuffer()));
    if (!decoded.ok || decoded.value.root !== root || decoded.value.index !== index)
      throw new RelayApiError('ERR_RELAY_DATA', `state piece ${index}: not the piece asked for`);
    return { bytes: decoded.value.bytes, proof: decoded.value.proof };
  }

  private framePath(round: number, peer: string): string {
    return `/api/runs/${this.runId}/rounds/${round}/frames/${encodeURIComponent(peer)}`;
  }

  private async shardListing(): Promise<DatasetManifest> {
    this.listing ??= await this.json(`/api/runs/${this.runId}/dataset`, DatasetManifestSchema);
    return this.listing;
  }

  private async shardHeader(n: number): Promise<TokenShardHeader> {
    const known = this.headers.get(n);
    if (known) return known;
    const head = await this.bytes(`/api/runs/${this.runId}/shards/${n}`, 0, HEADER_PROBE_BYTES - 1);
    const parsed = readTokenShardHeader(head);
    if (!parsed.ok) throw new RelayApiError('ERR_RELAY_DATA', `shard ${n}: ${parsed.error.message}`);
    this.headers.set(n, parsed.header);
    return parsed.header;
  }

  /**
   * A request tried again when the relay says 503: it did not take the request (no relay of its
   * cluster leads the run at the moment, or too many requests wait on the one that does), and
   * one lost upload or read would otherwise cost a whole round. A GET is also tried again when
   * the request itself fails (a reset connection under load): reads are idempotent, while an
   * upload that failed in flight may have landed. Any other HTTP error status is an answer.
   */
  private async send(path: string, init?: RequestInit): Promise<Response> {
    const idempotent = (init?.method ?? 'GET') === 'GET';
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      let wait = RETRY_MS[attempt];
      try {
        const response = await this.fetchImpl(`${this.base()}${path}`, init);
        if (response.status !== 503) return response;
        // A relay that says when to come back is busy, not gone: it is asked again as long as
        // the whole wait stays within BUSY_RETRY_MS (a round's uploads queue up at a relay).
        const after = Number(response.headers.get('retry-after')) * 1000;
        if (after > 0 && after <= MAX_RETRY_AFTER_MS && waited + after <= BUSY_RETRY_MS) wait = after;
        else if (wait === undefined || after > MAX_RETRY_AFTER_MS) return response;
        await response.body?.cancel();
      } catch (error) {
        if (wait === undefined || !idempotent || init?.signal?.aborted) throw error;
      }
      waited += wait;
      await pause(wait, init?.signal ?? undefined);
    }
  }

  private async bytes(path: string, first: number, last: number): Promise<Uint8Array> {
    const response = await this.send(path, { headers: { range: `bytes=${first}-${last}` } });
    if (response.status !== 206 && response.status !== 200)
      throw new RelayApiError('ERR_RELAY_HTTP', `${path}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    // A server that ignores Range answers 200 with the whole file.
    return response.status === 200 ? bytes.subarray(first, last + 1) : bytes;
  }

  /** A GET's JSON body as `schema` reads it; anything else is ERR_RELAY_DATA. */
  private async json<T>(path: string, schema: v.GenericSchema<unknown, T>): Promise<T> {
    const response = await this.send(path);
    if (!response.ok) throw new RelayApiError('ERR_RELAY_HTTP', `${path}: HTTP ${response.status}`);
    let json: unknown;
    try {
      json = await response.json();
    } catch (error) {
      throw new RelayApiError(
        'ERR_RELAY_DATA',
        `${path}: ${error instanceof Error ? error.message : 'not JSON'}`,
      );
    }
    const parsed = parseHttpBody(schema, json);
    if (!parsed.ok) throw new RelayApiError('ERR_RELAY_DATA', `${path}: ${parsed.error.message}`);
    return parsed.value;
  }
}
