// Committed round states on disk (weights + outer momentum, protocol/round-state-file.ts),
// one safetensors file per model hash, so `/api/runs/:id/checkpoint` can serve the newest one
// a late joiner or a downloader needs. The relay never computes weights after θ_0 (no
// gradients pass through it): a peer that reported the committed hash uploads them, and the
// upload is kept only if it hashes to that committed hash. Files are written to a temporary
// name and renamed, so a crash never leaves half a checkpoint.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GptConfig } from '../../protocol/gpt-config.ts';
import { decodeRoundState, encodeRoundState, type RoundState } from '../../protocol/round-state-file.ts';

export interface StoredCheckpoint {
  readonly round: number;
  readonly modelHash: string;
  readonly file: string;
}

export type CheckpointCheck =
  | { ok: true; state: RoundState }
  | { ok: false; code: 'ERR_CHECKPOINT_INVALID' | 'ERR_CHECKPOINT_HASH'; message: string };

/** Keep this many newest checkpoints; older ones are deleted. */
const KEEP = 3;
const NAME = /^round-(\d{8})-([0-9a-f]{64})\.safetensors$/;

export class CheckpointStore {
  private saving: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly model: GptConfig,
    private stored: StoredCheckpoint[],
  ) {}

  static async open(dir: string, model: GptConfig): Promise<CheckpointStore> {
    await mkdir(dir, { recursive: true });
    const stored: StoredCheckpoint[] = [];
    for (const name of await readdir(dir)) {
      const match = NAME.exec(name);
      if (match)
        stored.push({ round: Number(match[1]) - 1, modelHash: match[2] as string, file: join(dir, name) });
    }
    stored.sort((a, b) => a.round - b.round);
    return new CheckpointStore(dir, model, stored);
  }

  /** The newest stored checkpoint, or null. */
  latest(): StoredCheckpoint | null {
    return this.stored[this.stored.length - 1] ?? null;
  }

  has(hash: string): boolean {
    return this.stored.some((c) => c.modelHash === hash);
  }

  async read(checkpoint: StoredCheckpoint): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await readFile(checkpoint.file));
  }

  /** Parses `bytes` as this run's round state and checks that it hashes to `expectedHash`. */
  async check(bytes: Uint8Array, expectedHash: string): Promise<CheckpointCheck> {
    const decoded = await decodeRoundState(this.model, bytes, expectedHash);
    if (decoded.ok) return { ok: true, state: decoded.state };
    const code = decoded.code === 'ERR_STATE_HASH' ? 'ERR_CHECKPOINT_HASH' : 'ERR_CHECKPOINT_INVALID';
    return { ok: false, code, message: decoded.message };
  }

  /**
   * Stores a state already checked to hash to `hash` (round -1 is θ_0). Saves run one at a
   * time: two peers may upload the same state at once (the designated uploader and one asked
   * later), and the second must find the first's file, not race it for the same name.
   */
  save(round: number, hash: string, state: RoundState): Promise<StoredCheckpoint> {
    const saved = this.saving.then(() => this.write(round, hash, state));
    this.saving = saved.catch(() => undefined);
    return saved;
  }

  private async write(round: number, hash: string, state: RoundState): Promise<StoredCheckpoint> {
    const existing = this.stored.find((c) => c.modelHash === hash && c.round === round);
    if (existing) return existing;
    const bytes = encodeRoundState(this.model, state, { round: String(round), modelHash: hash });
    const file = join(this.dir, `round-${String(round + 1).padStart(8, '0')}-${hash}.safetensors`);
    const temporary = `${file}.tmp`;
    await writeFile(temporary, bytes);
    await rename(temporary, file);
    const stored = { round, modelHash: hash, file };
    this.stored = [...this.stored.filter((c) => c.file !== file), stored].sort((a, b) => a.round - b.round);
    while (this.stored.length > KEEP) {
      const old = this.stored.shift() as StoredCheckpoint;
      await rm(old.file, { force: true });
    }
    return stored;
  }
}
