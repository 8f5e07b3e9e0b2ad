// Reading a JSON body the relay sent over HTTP (run-api.ts, ledger-api.ts) against its schema.
// The relay is trusted no more than a peer: a body that is not what the contract says becomes
// a typed error, never a crash deep inside whatever reads a field of it.

import * as v from 'valibot';
import { issueText } from './schema-issue.ts';

/** What every relay error answers with, whatever its status. */
export const ErrorBody = v.object({
  error: v.object({ code: v.string(), message: v.string() }),
});
export type ErrorBody = v.InferOutput<typeof ErrorBody>;

export type HttpBodyError = { readonly code: 'ERR_HTTP_BODY'; readonly message: string };
export type HttpBodyParse<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: HttpBodyError };

/** `json` (already parsed) as the body `schema` describes; never throws. */
export function parseHttpBody<T>(schema: v.GenericSchema<unknown, T>, json: unknown): HttpBodyParse<T> {
  const parsed = v.safeParse(schema, json);
  if (parsed.success) return { ok: true, value: parsed.output };
  return { ok: false, error: { code: 'ERR_HTTP_BODY', message: issueText(parsed.issues) } };
}
