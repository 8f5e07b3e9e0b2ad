// A checkpoint on disk is a Hugging Face model folder: model.safetensors + config.json, so
// `GPT2LMHeadModel.from_pretrained(dir)` loads what we train and we load what it saves. The
// byte formats live in protocol/hf-checkpoint.ts; this file only moves them through the file
// system, which is why it is the Node side.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GptConfig } from '../../protocol/gpt-config.ts';
import {
  type CheckpointErrorCode,
  configFromHfJson,
  hfConfigJson,
  paramsFromSafetensors,
  paramsToSafetensors,
} from '../../protocol/hf-checkpoint.ts';

export const MODEL_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';

export class CheckpointFileError extends Error {
  override readonly name = 'CheckpointFileError';
  constructor(
    /** ERR_CHECKPOINT_IO when a file cannot be read or written; otherwise what the bytes failed. */
    readonly code: CheckpointErrorCode | 'ERR_CHECKPOINT_IO',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}

export interface Checkpoint {
  readonly config: GptConfig;
  readonly params: Float32Array;
  /** The safetensors `__metadata__` (step, run id, ... as the writer chose), `format` included. */
  readonly metadata: Map<string, string>;
}

/**
 * Writes `dir/model.safetensors` and `dir/config.json`, creating `dir` if needed. Each file is
 * written beside its final name and renamed into place, so a crash mid-write never leaves a
 * half-written checkpoint where a reader (or a peer fetching it) would find it.
 */
export async function writeCheckpoint(
  dir: string,
  config: GptConfig,
  params: Float32Array,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const model = paramsToSafetensors(config, params, metadata);
  const json = `${JSON.stringify(hfConfigJson(config), null, 2)}\n`;
  await mkdir(dir, { recursive: true });
  await writeAtomically(join(dir, MODEL_FILE), model);
  await writeAtomically(join(dir, CONFIG_FILE), json);
}

/** Reads a checkpoint folder; throws CheckpointFileError naming the file and what is wrong. */
export async function readCheckpoint(dir: string): Promise<Checkpoint> {
  const configPath = join(dir, CONFIG_FILE);
  const modelPath = join(dir, MODEL_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await readIo(configPath, 'utf8'));
  } catch (e) {
    if (e instanceof CheckpointFileError) throw e;
    throw new CheckpointFileError('ERR_CHECKPOINT_CONFIG', `${configPath} is not JSON`, { cause: e });
  }
  const config = configFromHfJson(json);
  if (!config.ok) throw new CheckpointFileError(config.error.code, `${configPath}: ${config.error.message}`);
  const bytes = await readIo(modelPath);
  const loaded = paramsFromSafetensors(config.config, bytes);
  if (!loaded.ok) throw new CheckpointFileError(loaded.error.code, `${modelPath}: ${loaded.error.message}`);
  return { config: config.config, params: loaded.params, metadata: loaded.metadata };
}

async function writeAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (e) {
    throw new CheckpointFileError('ERR_CHECKPOINT_IO', `cannot write ${path}`, { cause: e });
  }
}

function readIo(path: string): Promise<Buffer>;
function readIo(path: string, encoding: 'utf8'): Promise<string>;
async function readIo(path: string, encoding?: 'utf8'): Promise<Buffer | string> {
  try {
    return encoding ? await readFile(path, encoding) : await readFile(path);
  } catch (e) {
    throw new CheckpointFileError('ERR_CHECKPOINT_IO', `cannot read ${path}`, { cause: e });
  }
}
