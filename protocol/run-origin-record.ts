// Where a run came from, as its relay's ledger records it (`run_origins`, relay/ledger/
// run-origins.ts) and `/api/runs/:id` shows it: the origin run and round, or the file's name,
// and the model hash (protocol/model-hash.ts) of the state round 0 started from. Recorded once,
// when the run first opens, and signed by the relay's key, so that someone holding the database
// but not the key cannot make a run seem to descend from another model.
//
// Signed message, UTF-8: the line `potluck-run-origin-v1`, a newline, then the JSON array
//
//   [runId, kind, source, round, modelHash, recordedAt]
//
// with round null for a file. JSON.stringify of strings, numbers and null is unambiguous
// whatever a file name holds (round-metadata.ts does the same).
import * as v from 'valibot';
import { verifyEd25519 } from './ed25519-verify.ts';
import { IsoTime, MAX_ROUND, RunId, Sha256Hex, StorableText } from './ledger-entry.ts';
import { SignatureText } from './ledger-signatures.ts';

export const RUN_ORIGIN_PREFIX = 'potluck-run-origin-v1';
/** Longest file name an origin record keeps. */
export const MAX_ORIGIN_SOURCE = 255;

export const RunOriginRecordSchema = v.object({
  runId: RunId,
  kind: v.picklist(['run', 'file']),
  /** The origin run's id, or the origin file's name (no folders: they say nothing to a reader). */
  source: v.pipe(StorableText(MAX_ORIGIN_SOURCE), v.minLength(1)),
  /** The origin run's committed round; null for a file. */
  round: v.nullable(v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_ROUND))),
  /** modelHash(weights, momentum) of the state round 0 starts from. */
  modelHash: Sha256Hex,
  recordedAt: IsoTime,
  /** The relay's signature over runOriginMessage(...). */
  signature: SignatureText,
});
export type RunOriginRecord = v.InferOutput<typeof RunOriginRecordSchema>;
export type UnsignedRunOrigin = Omit<RunOriginRecord, 'signature'>;

export function runOriginMessage(r: UnsignedRunOrigin): Uint8Array<ArrayBuffer> {
  const text = `${RUN_ORIGIN_PREFIX}\n${JSON.stringify([r.runId, r.kind, r.source, r.round, r.modelHash, r.recordedAt])}`;
  return new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;
}

/** Whether `record` is well formed and signed by `relayKey`; never throws. */
export async function verifyRunOrigin(record: unknown, relayKey: string): Promise<boolean> {
  const parsed = v.safeParse(RunOriginRecordSchema, record);
  if (!parsed.success) return false;
  return verifyEd25519(relayKey, parsed.output.signature, runOriginMessage(parsed.output));
}
