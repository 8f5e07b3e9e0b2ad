// The operator's run config: `--run FILE` gives any subset as JSON, and each section it names
// is merged over the defaults (protocol/run-config.ts, where the schema and every rule live).
// Every peer trains what the result's hash names, so a relay restarted with the same file
// resumes the same run and one started with another file starts a new run. A config that names
// no run is named after its dataset (run-name.ts).
import * as v from 'valibot';
import { DatasetChoiceSchema } from '../../protocol/data-mixture.ts';
import {
  checkRunConfig,
  DEFAULT_PIPELINE,
  DEFAULT_RUN,
  type RunConfig,
  type RunConfigCheck,
} from '../../protocol/run-config.ts';
import { runNameFor } from './run-name.ts';

/** DEFAULT_RUN with `input`'s sections merged over it, validated. */
export function resolveRunConfig(input: unknown): RunConfigCheck {
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input)))
    return { ok: false, message: 'the run config must be a JSON object' };
  const given = (input ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...DEFAULT_RUN };
  // origin has no default: a config that names it gives all of it (protocol/run-origin.ts).
  const defaults: RunConfig = { ...DEFAULT_RUN, pipeline: DEFAULT_PIPELINE, origin: undefined };
  for (const key of Object.keys(defaults) as (keyof RunConfig)[]) {
    if (!Object.hasOwn(given, key)) continue;
    const value = given[key];
    const fallback = defaults[key];
    merged[key] =
      typeof fallback === 'object' && typeof value === 'object' && value !== null && !Array.isArray(value)
        ? { ...fallback, ...value }
        : value;
  }
  // A run on another dataset is named after it unless the config names it (run-name.ts).
  if (!Object.hasOwn(given, 'name') && v.is(DatasetChoiceSchema, merged.dataset))
    merged.name = runNameFor(merged.dataset);
  const unknown = Object.keys(given).filter((key) => !Object.hasOwn(defaults, key));
  if (unknown.length > 0) return { ok: false, message: `unknown run config keys: ${unknown.join(', ')}` };
  return checkRunConfig(merged);
}
