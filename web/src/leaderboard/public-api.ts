// The relay's public HTTP API as the leaderboard reads it (relay/http/run-routes.ts and
// relay/http/ledger-routes.ts). Shapes are the relay's; anything the page must not take on
// trust (heads, entries, receipts) is checked by the protocol/ verifiers, which accept unknown.

export interface RunSummary {
  readonly id: string;
  readonly name: string;
  readonly paramCount: number;
  readonly committedRound: number;
  readonly modelHash: string | null;
  readonly peers: number;
  readonly roundInProgress: boolean;
  readonly epoch: number;
  /** The newest stored checkpoint; null until a peer has uploaded one. */
  readonly checkpoint: { readonly round: number; readonly modelHash: string } | null;
}

export interface LossPoint {
  readonly round: number;
  readonly trainLoss: number | null;
  readonly tokens: number;
  readonly committedAt: string;
}

export interface LeaderboardRow {
  readonly publicKey: string;
  readonly name: string | null;
  /** TFLOP of verified work: flops / 1e12. */
  readonly credits: number;
  readonly flops: string;
  readonly tokens: number;
  readonly gpuMs: number;
  /** ISO time, or null when the relay has no peers row for the key. */
  readonly lastSeen: string | null;
  readonly rounds: number;
}

export interface LedgerPage {
  readonly relayKey: string;
  /** Unchecked: pass to verifyHead before believing it. */
  readonly head: {
    readonly height: number;
    readonly hash: string;
    readonly runId: string;
    readonly round: number;
    readonly signature: string;
  } | null;
  /** Unchecked: pass to verifyChainSegment before believing them. */
  readonly entries: readonly unknown[];
}

/** The relay's cap on entries per /api/ledger page (MAX_LEDGER_PAGE in ledger-routes.ts). */
export const LEDGER_PAGE_LIMIT = 1000;

export type GetJson = (path: string) => Promise<unknown>;

/** fetch() as JSON, failing on any non-2xx status with the path in the message. */
export async function fetchJson(path: string): Promise<unknown> {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

export class PublicApi {
  constructor(private readonly getJson: GetJson = fetchJson) {}

  async runs(): Promise<readonly RunSummary[]> {
    return ((await this.getJson('/api/runs')) as { runs: RunSummary[] }).runs;
  }

  async lossCurve(runId: string): Promise<readonly LossPoint[]> {
    return ((await this.getJson(`/api/runs/${encodeURIComponent(runId)}`)) as { loss: LossPoint[] }).loss;
  }

  async leaderboard(): Promise<readonly LeaderboardRow[]> {
    return ((await this.getJson('/api/leaderboard')) as { rows: LeaderboardRow[] }).rows;
  }

  /** Up to `limit` entries with heights above `after`, with the relay key and the current head. */
  async ledger(after: number, limit: number): Promise<LedgerPage> {
    return (await this.getJson(`/api/ledger?after=${after}&limit=${limit}`)) as LedgerPage;
  }
}

export const checkpointUrl = (runId: string) => `/api/runs/${encodeURIComponent(runId)}/checkpoint`;
