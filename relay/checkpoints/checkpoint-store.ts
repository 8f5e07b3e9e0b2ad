// Committed round states on disk (weights + outer momentum, protocol/round-state-file.ts),
// one safetensors file per committed round, so `/api/runs/:id/checkpoint` can serve the newest
// one a late joiner or a downloader needs, and the relay can resume, or roll back to one of
// the last few. The relay computes every state itself (relay/rounds/coordinator.ts). Files are
// written to a temporary name and renamed, so a crash never leaves half a checkpoint.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GptConfig } from '../../protocol/gpt-config.ts';
import { decodeRoundState, encodeRoundState, type RoundState } from '../../protocol/round-state-file.ts';

export interface StoredCheckpoint {
  readonly round: number;
  readonly modelHash: string;
}

export type CheckpointCheck =
  | { ok: true; state: RoundState }
  | { ok: false; code: 'ERR_CHECKPOINT_INVALID' | 'ERR_CHECKPOINT_HASH'; message: string };

/**
 * Where a relay keeps committed states: files in its state folder (this file), or PostgreSQL
 * when several relays serve one run and each must serve them (pg-checkpoint-store.ts).
 */
export interface CheckpointArchive {
  latest(): StoredCheckpoint | null;
  find(hash: string): StoredCheckpoint | null;
  has(hash: string): boolean;
  read(checkpoint: StoredCheckpoint): Promise<Uint8Array<ArrayBuffer>>;
  load(hash: string): Promise<RoundState | null>;
  check(bytes: Uint8Array, expectedHash: string): Promise<CheckpointCheck>;
  save(round: number, hash: string, state: RoundState): Promise<StoredCheckpoint>;
  /** Catches up with states another relay saved (a no-op where only this relay saves). */
  sync(): Promise<void>;
}

/** Parses `bytes` as a round state of `model` and checks that it hashes to `expectedHash`. */
export async function checkCheckpoint(
  model: GptConfig,
  bytes: Uint8Array,
  expectedHash: string,
): Promise<CheckpointCheck> {
  const decoded = await decodeRoundState(model, bytes, expectedHash);
  if (decoded.ok) return { ok: true, state: decoded.state };
  const code = decoded.code === 'ERR_STATE_HASH' ? 'ERR_CHECKPOINT_HASH' : 'ERR_CHECKPOINT_INVALID';
  return { ok: false, code, message: decoded.message };
}

/**
 * What both stores share: loading a kept state checked against its hash, and saves one at a
 * time, so two saves of one state find each other's copy rather than race to write it.
 */
export abstract class SerialArchive implements CheckpointArchive {
  private saving: Promise<unknown> = Promise.resolve();

  protected constructor(protected readonly model: GptConfig) {}

  /** The kept states, oldest round first. */
  protected abstract kept(): readonly StoredCheckpoint[];
  abstract read(checkpoint: StoredCheckpoint): Promise<Uint8Array<ArrayBuffer>>;
  abstract sync(): Promise<void>;
  protected abstract write(round: number, hash: string, state: RoundState): Promise<StoredCheckpoint>;

  /** The newest stored checkpoint, or null. */
  latest(): StoredCheckpoint | null {
    const kept = this.kept();
    return kept[kept.length - 1] ?? null;
  }

  /** The newest kept checkpoint of `hash`, or null. */
  find(hash: string): StoredCheckpoint | null {
    return (
      this.kept()
        .filter((c) => c.modelHash === hash)
        .pop() ?? null
    );
  }

  has(hash: string): boolean {
    return this.kept().some((c) => c.modelHash === hash);
  }

  /** The newest kept state that hashes to `hash`, checked, or null. */
  async load(hash: string): Promise<RoundState | null> {
    if (!this.find(hash)) await this.sync();
    const stored = this.find(hash);
    if (!stored) return null;
    const checked = await this.check(await this.read(stored), hash);
    return checked.ok ? checked.state : null;
  }

  /** Parses `bytes` as this run's round state and checks that it hashes to `expectedHash`. */
  check(bytes: Uint8Array, expectedHash: string): Promise<CheckpointCheck> {
    return checkCheckpoint(this.model, bytes, expectedHash);
  }

  /** Stores a state known to hash to `hash` (round -1 is θ_0), after the saves before it. */
  save(round: number, hash: string, state: RoundState): Promise<StoredCheckpoint> {
    const saved = this.saving.then(() => this.write(round, hash, state));
    this.saving = saved.catch(() => undefined);
    return saved;
  }
}

interface StoredFile extends StoredCheckpoint {
  readonly file: string;
}

const NAME = /^round-(\d{8})-([0-9a-f]{64})\.safetensors$/;

export class CheckpointStore extends SerialArchive {
  private constructor(
    private readonly dir: string,
    model: GptConfig,
    private stored: StoredFile[],
    /** Keep this many newest checkpoints; older ones are deleted. */
    private readonly keep: number,
  ) {
    super(model);
  }

  static async open(dir: string, model: GptConfig, keep = 3): Promise<CheckpointStore> {
    await mkdir(dir, { recursive: true });
    const stored: StoredFile[] = [];
    for (const name of await readdir(dir)) {
      const match = NAME.exec(name);
      if (match)
        stored.push({ round: Number(match[1]) - 1, modelHash: match[2] as string, file: join(dir, name) });
    }
    stored.sort((a, b) => a.round - b.round);
    return new CheckpointStore(dir, model, stored, Math.max(1, keep));
  }

  protected kept(): readonly StoredCheckpoint[] {
    return this.stored;
  }

  async read(checkpoint: StoredCheckpoint): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await readFile(this.fileOf(checkpoint)));
  }

  async sync(): Promise<void> {}

  private fileOf(checkpoint: StoredCheckpoint): string {
    const name = `round-${String(checkpoint.round + 1).padStart(8, '0')}-${checkpoint.modelHash}.safetensors`;
    return join(this.dir, name);
  }

  protected async write(round: number, hash: string, state: RoundState): Promise<StoredCheckpoint> {
    const existing = this.stored.find((c) => c.modelHash === hash && c.round === round);
    if (existing) return existing;
    const bytes = encodeRoundState(this.model, state, { round: String(round), modelHash: hash });
    const file = this.fileOf({ round, modelHash: hash });
    const temporary = `${file}.tmp`;
    await writeFile(temporary, bytes);
    await rename(temporary, file);
    const stored = { round, modelHash: hash, file };
    this.stored = [...this.stored.filter((c) => c.file !== file), stored].sort((a, b) => a.round - b.round);
    while (this.stored.length > this.keep) {
      const old = this.stored.shift() as StoredFile;
      await rm(old.file, { force: true });
    }
    return stored;
  }
}
