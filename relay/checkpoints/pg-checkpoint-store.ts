// Committed round states in PostgreSQL (the `checkpoints` table, relay/cluster/cluster-schema.ts),
// for several relays serving one run: the leader saves each state before it commits the round,
// and any relay serves it to a volunteer or takes the run over from it. The index of kept states
// is held in memory and re-read by sync(), so lookups stay synchronous as in the file store.
import type { GptConfig } from '../../protocol/gpt-config.ts';
import { encodeRoundState, type RoundState } from '../../protocol/round-state-file.ts';
import type { Sql } from '../ledger/sql.ts';
import { SerialArchive, type StoredCheckpoint } from './checkpoint-store.ts';

export class PgCheckpointStore extends SerialArchive {
  private constructor(
    private readonly sql: Sql,
    private readonly runId: string,
    model: GptConfig,
    private readonly keep: number,
    private stored: StoredCheckpoint[],
  ) {
    super(model);
  }

  static async open(sql: Sql, runId: string, model: GptConfig, keep = 3): Promise<PgCheckpointStore> {
    const store = new PgCheckpointStore(sql, runId, model, Math.max(1, keep), []);
    await store.sync();
    return store;
  }

  async sync(): Promise<void> {
    const rows = await this.sql.query<{ round: string; model_hash: string }>(
      'select round, model_hash from checkpoints where run_id = $1 order by round, saved_at',
      [this.runId],
    );
    this.stored = rows.map((r) => ({ round: Number(r.round), modelHash: r.model_hash }));
  }

  protected kept(): readonly StoredCheckpoint[] {
    return this.stored;
  }

  async read(checkpoint: StoredCheckpoint): Promise<Uint8Array<ArrayBuffer>> {
    const [row] = await this.sql.query<{ bytes: Uint8Array }>(
      'select bytes from checkpoints where run_id = $1 and model_hash = $2 and round = $3',
      [this.runId, checkpoint.modelHash, checkpoint.round],
    );
    if (!row) throw new Error(`checkpoint of round ${checkpoint.round} is no longer kept`);
    const copy = new Uint8Array(row.bytes.byteLength);
    copy.set(row.bytes);
    return copy;
  }

  /** The oldest beyond `keep` are deleted as each is saved. */
  protected async write(round: number, hash: string, state: RoundState): Promise<StoredCheckpoint> {
    const bytes = encodeRoundState(this.model, state, { round: String(round), modelHash: hash });
    await this.sql.transaction(async (tx) => {
      await tx.query(
        `insert into checkpoints (run_id, round, model_hash, bytes) values ($1, $2, $3, $4)
         on conflict (run_id, model_hash, round) do nothing`,
        [this.runId, round, hash, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)],
      );
      await tx.query(
        `delete from checkpoints where run_id = $1 and (round, model_hash) not in (
           select round, model_hash from checkpoints where run_id = $1 order by round desc, saved_at desc limit $2)`,
        [this.runId, this.keep],
      );
    });
    await this.sync();
    return { round, modelHash: hash };
  }
}
