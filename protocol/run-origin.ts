// Where a run starts (continual pretraining, issue 18): by default from θ_0 of its seed; with an
// `origin` in its run config, from a model that already learned something. Two kinds:
//
//   { "kind": "run",  "run": "brown-gpt-1a2b3c4d", "round": 120 }   a committed state of an
//       earlier run on this relay (weights and outer momentum, bit for bit); without `round`,
//       the run's last committed round when this run first opens
//   { "kind": "file", "file": "models/gpt2-tiny/model.safetensors" }  a safetensors file with
//       Hugging Face GPT-2 names (GPT2Model or GPT2LMHeadModel, protocol/hf-checkpoint.ts); a
//       config.json beside it must describe the run's model
//
// The relay resolves it once, before the run opens (relay/run/origin-state.ts), serves the state
// as round 0's, and records what it resolved to in its ledger (protocol/run-origin-record.ts).
// Objects are strict: a misspelt key is refused rather than silently starting from the seed.

import * as v from 'valibot';
import { MAX_ROUND, RunId } from './ledger-entry.ts';

/** Longest origin file path a config may name. */
export const MAX_ORIGIN_PATH = 1000;

const RunOriginFromRun = v.strictObject({
  kind: v.literal('run'),
  /** The earlier run's id, as /api/runs names it. */
  run: RunId,
  /** One of its committed rounds still kept on the relay; absent: its last committed round. */
  round: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_ROUND))),
});

const RunOriginFromFile = v.strictObject({
  kind: v.literal('file'),
  /** A safetensors file on the relay's machine, relative to the folder the relay starts in. */
  file: v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(MAX_ORIGIN_PATH),
    v.check((path) => !path.includes('\0'), 'a path has no NUL'),
    v.regex(/\.safetensors$/, 'names a .safetensors file'),
  ),
});

export const RunOriginSchema = v.variant('kind', [RunOriginFromRun, RunOriginFromFile]);
export type RunOrigin = v.InferOutput<typeof RunOriginSchema>;
