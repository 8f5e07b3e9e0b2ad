// The state a run's `origin` names (protocol/run-origin.ts), loaded and checked before the run
// opens: a committed state of an earlier run on this relay, taken from that run's checkpoints
// as it is (weights and outer momentum, so its model hash is the one that run's ledger
// committed), or a Hugging Face GPT-2 safetensors file, read with zero momentum. Whatever does
// not fit the run's model is refused here with a RunOriginError that names the tensor and both
// shapes, so the relay never starts a run it would have to abandon at round 0.
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import * as v from 'valibot';
import { CodedError } from '../../protocol/coded-error.ts';
import { type GptConfig, GptConfigSchema } from '../../protocol/gpt-config.ts';
import { configFromHfJson } from '../../protocol/hf-checkpoint.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import { decodeRoundState, type RoundState } from '../../protocol/round-state-file.ts';
import type { RunOrigin } from '../../protocol/run-origin.ts';
import { decodeSafetensors } from '../../protocol/safetensors.ts';
import type { CheckpointArchive } from '../checkpoints/checkpoint-store.ts';
import type { RoundRecord } from '../ledger/rows.ts';
import type { RunOriginInput } from '../ledger/run-origins.ts';
import { configMismatch, modelShapes, type ShapeMismatch, shapeMismatch } from './origin-shapes.ts';

export type RunOriginErrorCode =
  | ShapeMismatch['code'] // a tensor missing, extra or of another shape (names it and both shapes)
  | 'ERR_ORIGIN_CONFIG' // the origin's model differs in what shapes do not show (heads), or its config.json is bad
  | 'ERR_ORIGIN_RUN_UNKNOWN' // no run of that id in this relay's ledger
  | 'ERR_ORIGIN_ROUND' // the origin run committed no round, or not the one asked for
  | 'ERR_ORIGIN_STATE_GONE' // the round was committed but its state is no longer kept
  | 'ERR_ORIGIN_FILE' // the file cannot be read, is too large, or is not safetensors
  | 'ERR_ORIGIN_INVALID'; // the state is not a usable model (integers, NaN, a bad momentum)

export class RunOriginError extends CodedError<RunOriginErrorCode> {
  override readonly name = 'RunOriginError';
  constructor(
    code: RunOriginErrorCode,
    message: string,
    /** For shape errors: the tensor, its shape in the origin and in the run's model. */
    readonly mismatch: ShapeMismatch | null = null,
  ) {
    super(code, `the run's origin: ${message}`);
  }
}

/** Bytes of slack above the model in float64 twice over (a tied LM head), for headers and mask buffers. */
const FILE_SLACK_BYTES = 64 * 2 ** 20;

/** The largest origin file read for `model`: refused above it rather than read into memory. */
export function maxOriginFileBytes(model: GptConfig): number {
  return 2 * 8 * paramLayout(model).totalFloats + FILE_SLACK_BYTES;
}

export interface OriginSources {
  /** The ledger's record of runs and their committed rounds. */
  readonly runConfig: (runId: string) => Promise<unknown | null>;
  readonly rounds: (runId: string) => Promise<readonly RoundRecord[]>;
  /** A run's kept committed states (its checkpoint folder, or PostgreSQL). */
  readonly archive: (runId: string) => Promise<CheckpointArchive>;
  /** Relative origin files are found from here (the folder the relay started in). */
  readonly cwd?: string;
  /** Default maxOriginFileBytes(model). */
  readonly maxFileBytes?: number;
}

export interface OriginState {
  readonly state: RoundState;
  /** modelHash(weights, momentum). */
  readonly hash: string;
  /** What the ledger records (the run id is the caller's). */
  readonly record: Omit<RunOriginInput, 'runId'>;
}

/** Loads the state `origin` names for a run of `model`; throws RunOriginError when it does not fit. */
export async function loadOriginState(
  origin: RunOrigin,
  model: GptConfig,
  sources: OriginSources,
): Promise<OriginState> {
  switch (origin.kind) {
    case 'run':
      return fromRun(origin, model, sources);
    case 'file':
      return fromFile(origin, model, sources);
    default: {
      const unreachable: never = origin;
      return unreachable;
    }
  }
}

async function fromRun(
  origin: Extract<RunOrigin, { kind: 'run' }>,
  model: GptConfig,
  sources: OriginSources,
): Promise<OriginState> {
  const config = await sources.runConfig(origin.run);
  if (config === null)
    throw new RunOriginError('ERR_ORIGIN_RUN_UNKNOWN', `no run ${origin.run} on this relay`);
  const theirs = v.safeParse(GptConfigSchema, (config as { model?: unknown }).model);
  if (!theirs.success)
    throw new RunOriginError('ERR_ORIGIN_CONFIG', `run ${origin.run}'s recorded config has no model we read`);
  const mismatch = shapeMismatch(modelShapes(theirs.output), model);
  if (mismatch) throw new RunOriginError(mismatch.code, `run ${origin.run}: ${mismatch.message}`, mismatch);
  const heads = configMismatch(theirs.output, model);
  if (heads) throw new RunOriginError('ERR_ORIGIN_CONFIG', `run ${origin.run}: ${heads}`);

  const rounds = await sources.rounds(origin.run);
  const committed = origin.round === undefined ? rounds.at(-1) : rounds.find((r) => r.round === origin.round);
  if (!committed)
    throw new RunOriginError(
      'ERR_ORIGIN_ROUND',
      origin.round === undefined
        ? `run ${origin.run} has committed no round yet`
        : `run ${origin.run} has not committed round ${origin.round} (its last is ${rounds.at(-1)?.round ?? 'none'})`,
    );
  const archive = await sources.archive(origin.run);
  const state = await archive.load(committed.modelHash);
  if (!state) {
    const kept = [...new Set(rounds.filter((r) => archive.has(r.modelHash)).map((r) => r.round))];
    throw new RunOriginError(
      'ERR_ORIGIN_STATE_GONE',
      `run ${origin.run}'s round ${committed.round} (${committed.modelHash.slice(0, 12)}) is no longer kept; ` +
        `it keeps rounds ${kept.length > 0 ? kept.join(', ') : 'none'} (guard.keepCheckpoints)`,
    );
  }
  return {
    state,
    hash: committed.modelHash,
    record: { kind: 'run', source: origin.run, round: committed.round, modelHash: committed.modelHash },
  };
}

async function fromFile(
  origin: Extract<RunOrigin, { kind: 'file' }>,
  model: GptConfig,
  sources: OriginSources,
): Promise<OriginState> {
  const path = resolve(sources.cwd ?? process.cwd(), origin.file);
  const limit = sources.maxFileBytes ?? maxOriginFileBytes(model);
  const size = await stat(path).then(
    (s) => s.size,
    (error: unknown) => {
      throw new RunOriginError('ERR_ORIGIN_FILE', `cannot read ${path}: ${messageOf(error)}`);
    },
  );
  if (size > limit)
    throw new RunOriginError(
      'ERR_ORIGIN_FILE',
      `${path} is ${size} bytes, above the ${limit} a model of this shape can need`,
    );
  const bytes = new Uint8Array(await readFile(path));
  const decoded = decodeSafetensors(bytes);
  if (!decoded.ok) throw new RunOriginError('ERR_ORIGIN_FILE', `${path}: ${decoded.error.message}`);
  const shapes = new Map([...decoded.tensors].map(([name, t]) => [name, t.shape]));
  const mismatch = shapeMismatch(shapes, model);
  if (mismatch) throw new RunOriginError(mismatch.code, `${path}: ${mismatch.message}`, mismatch);
  await checkConfigBeside(path, model);
  const read = await decodeRoundState(model, bytes, null);
  if (!read.ok) throw new RunOriginError('ERR_ORIGIN_INVALID', `${path}: ${read.message}`);
  return {
    state: read.state,
    hash: read.hash,
    record: { kind: 'file', source: basename(path), round: null, modelHash: read.hash },
  };
}

/**
 * A Hugging Face model folder holds config.json beside model.safetensors: when it is there, it
 * must describe the run's model (heads, which no tensor's shape shows, included).
 */
async function checkConfigBeside(path: string, model: GptConfig): Promise<void> {
  const file = join(dirname(path), 'config.json');
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) return;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RunOriginError('ERR_ORIGIN_CONFIG', `${file} is not JSON: ${messageOf(error)}`);
  }
  const config = configFromHfJson(json);
  if (!config.ok) throw new RunOriginError('ERR_ORIGIN_CONFIG', `${file}: ${config.error.message}`);
  const differs = configMismatch(config.config, model);
  if (differs) throw new RunOriginError('ERR_ORIGIN_CONFIG', `${file}: ${differs}`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
