// The `run_origins` table (schema.ts, version 4): where a run started, written once and signed
// (protocol/run-origin-record.ts). A second record for the same run (a second relay on the same
// database, a restart racing the first open) writes nothing: the first one stands, and is what
// both get back.
import * as v from 'valibot';
import {
  type RunOriginRecord,
  RunOriginRecordSchema,
  runOriginMessage,
  type UnsignedRunOrigin,
} from '../../protocol/run-origin-record.ts';
import { LedgerError } from './errors.ts';
import type { RelaySigner } from './relay-signer.ts';
import type { Sql } from './sql.ts';

export type RunOriginInput = Omit<UnsignedRunOrigin, 'recordedAt'>;

interface OriginRow {
  run_id: string;
  kind: 'run' | 'file';
  source: string;
  round: number | null;
  model_hash: string;
  recorded_at: string;
  signature: string;
}

const ORIGIN_COLUMNS = 'run_id, kind, source, round, model_hash, recorded_at, signature';

/** Signs and stores `input` unless the run has an origin already; returns the one that stands. */
export async function recordRunOrigin(
  sql: Sql,
  signer: RelaySigner,
  now: Date,
  input: RunOriginInput,
): Promise<RunOriginRecord> {
  const unsigned: UnsignedRunOrigin = { ...input, recordedAt: now.toISOString() };
  const signature = await signer.sign(runOriginMessage(unsigned));
  const record = { ...unsigned, signature };
  if (!v.is(RunOriginRecordSchema, record))
    throw new LedgerError('ERR_LEDGER_INPUT', `run origin ${JSON.stringify(input).slice(0, 300)}`);
  await sql.query(
    `insert into run_origins (${ORIGIN_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7)
     on conflict (run_id) do nothing`,
    [record.runId, record.kind, record.source, record.round, record.modelHash, record.recordedAt, signature],
  );
  const stored = await readRunOrigin(sql, input.runId);
  if (!stored) throw new LedgerError('ERR_LEDGER_INPUT', `run ${input.runId} kept no origin`);
  return stored;
}

/** The run's origin, or null for a run that started from its seed. */
export async function readRunOrigin(sql: Sql, runId: string): Promise<RunOriginRecord | null> {
  const [row] = await sql.query<OriginRow>(`select ${ORIGIN_COLUMNS} from run_origins where run_id = $1`, [
    runId,
  ]);
  if (!row) return null;
  return {
    runId: row.run_id,
    kind: row.kind,
    source: row.source,
    round: row.round === null ? null : Number(row.round),
    modelHash: row.model_hash,
    recordedAt: row.recorded_at,
    signature: row.signature,
  };
}
