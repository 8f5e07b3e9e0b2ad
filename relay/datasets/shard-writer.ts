// Streams one split's tokens into fixed-size shard files (`train_000.bin`, `train_001.bin`,
// ...), so preparing a large corpus never holds more than one shard of tokens at a time.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ShardEntry, SplitName } from '../../protocol/dataset-manifest.ts';
import { encodeTokenShard, MAX_SHARD_TOKENS } from '../../protocol/token-shard.ts';

/** `train_000.bin`: three digits at least, more when a split needs over a thousand shards. */
export function shardFileName(split: SplitName, index: number): string {
  return `${split}_${String(index).padStart(3, '0')}.bin`;
}

export class ShardWriter {
  private readonly buffer: Uint16Array;
  private filled = 0;
  private readonly written: ShardEntry[] = [];
  private total = 0;

  constructor(
    private readonly dir: string,
    private readonly split: SplitName,
    private readonly shardTokens: number,
    private readonly vocabSize: number,
  ) {
    if (!Number.isInteger(shardTokens) || shardTokens < 1 || shardTokens > MAX_SHARD_TOKENS) {
      throw new RangeError(`shard size must be an integer in [1, ${MAX_SHARD_TOKENS}], got ${shardTokens}`);
    }
    this.buffer = new Uint16Array(shardTokens); // (shardTokens,)
  }

  /** Tokens written so far, including those still buffered. */
  get tokenCount(): number {
    return this.total;
  }

  /** Appends tokens, writing out each shard as it fills. */
  async append(tokens: Uint16Array): Promise<void> {
    let at = 0;
    while (at < tokens.length) {
      const take = Math.min(tokens.length - at, this.shardTokens - this.filled);
      this.buffer.set(tokens.subarray(at, at + take), this.filled);
      this.filled += take;
      this.total += take;
      at += take;
      if (this.filled === this.shardTokens) await this.flush();
    }
  }

  /** Writes the last, partly filled shard and returns every shard written, in order. */
  async finish(): Promise<ShardEntry[]> {
    await this.flush();
    return [...this.written];
  }

  private async flush(): Promise<void> {
    if (this.filled === 0) return;
    const file = shardFileName(this.split, this.written.length);
    await writeFile(
      join(this.dir, file),
      encodeTokenShard(this.buffer.subarray(0, this.filled), this.vocabSize),
    );
    this.written.push({ file, tokens: this.filled });
    this.filled = 0;
  }
}
