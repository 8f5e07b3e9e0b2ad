// Reads one split of a prepared data set for training and evaluation: random windows for
// training steps (nanoGPT's get_batch), consecutive windows for validation loss. Windows are
// read from the shard files at their offsets rather than loading whole splits, so memory
// stays at one batch however large the data set; the Brown Corpus would fit either way.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetManifest, ShardEntry, SplitName } from '../../protocol/dataset-manifest.ts';
import type { Rng } from '../../protocol/rng.ts';
import { assembleBatch, checkBatchShape, type TokenBatch } from '../../protocol/token-batch.ts';
import type { TokenShardHeader } from '../../protocol/token-shard.ts';
import {
  bytesPerToken,
  decodeTokenIds,
  decodeTokenShard,
  readTokenShardHeader,
  TOKEN_SHARD_HEADER_BYTES,
  tokenShardByteLength,
} from '../../protocol/token-shard.ts';
import type { WindowLocation } from '../../protocol/token-windows.ts';
import { sequentialWindowCount, sequentialWindows, WindowIndex } from '../../protocol/token-windows.ts';
import { DatasetError } from './errors.ts';
import { readManifest } from './manifest.ts';

interface OpenShard {
  readonly entry: ShardEntry;
  readonly fd: number;
  readonly header: TokenShardHeader;
}

/** One split, opened; `close()` releases its files and is safe to call twice. */
export class SplitLoader {
  private closed = false;

  private constructor(
    readonly manifest: DatasetManifest,
    readonly split: SplitName,
    private readonly shards: readonly OpenShard[],
  ) {}

  /** Opens a split's shards and checks each header against the manifest and file size. */
  static async open(dir: string, split: SplitName): Promise<SplitLoader> {
    const manifest = await readManifest(dir);
    const shards: OpenShard[] = [];
    try {
      for (const entry of manifest.splits[split].shards)
        shards.push(openShard(dir, entry, manifest.vocabSize));
    } catch (error) {
      for (const shard of shards) closeSync(shard.fd);
      throw error;
    }
    return new SplitLoader(manifest, split, shards);
  }

  get vocabSize(): number {
    return this.manifest.vocabSize;
  }

  get tokenCount(): number {
    return this.manifest.splits[this.split].tokens;
  }

  /**
   * A training batch: B windows drawn independently and uniformly over every valid start in
   * the split (with replacement). The same rng state gives the same batch.
   */
  sampleBatch(batchSize: number, seqLen: number, rng: Pick<Rng, 'nextBelow'>): TokenBatch {
    const index = new WindowIndex(this.shardTokenCounts(), seqLen + 1);
    if (index.count === 0) throw this.tooShort(seqLen);
    const windows: WindowLocation[] = [];
    for (let b = 0; b < batchSize; b++) windows.push(index.locate(rng.nextBelow(index.count)));
    return this.readBatch(windows, seqLen);
  }

  /**
   * Consecutive non-overlapping windows for a validation pass, in a fixed order. Only full
   * batches are yielded (GPU buffers have a fixed shape); see `evalBatchCount`.
   */
  *evalBatches(batchSize: number, seqLen: number): Generator<TokenBatch> {
    if (this.evalBatchCount(batchSize, seqLen) === 0) throw this.tooShort(seqLen);
    let windows: WindowLocation[] = [];
    for (const window of sequentialWindows(this.shardTokenCounts(), seqLen)) {
      windows.push(window);
      if (windows.length === batchSize) {
        yield this.readBatch(windows, seqLen);
        windows = [];
      }
    }
  }

  /** Batches `evalBatches` yields: the trailing windows that do not fill a batch are left out. */
  evalBatchCount(batchSize: number, seqLen: number): number {
    checkBatchShape(batchSize, seqLen);
    return Math.floor(sequentialWindowCount(this.shardTokenCounts(), seqLen) / batchSize);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const shard of this.shards) closeSync(shard.fd);
  }

  private shardTokenCounts(): number[] {
    return this.shards.map((s) => s.entry.tokens);
  }

  private tooShort(seqLen: number): DatasetError {
    return new DatasetError(
      'ERR_SPLIT_TOO_SHORT',
      `no ${this.split} shard holds a window of ${seqLen + 1} tokens (split has ${this.tokenCount})`,
    );
  }

  private readBatch(windows: readonly WindowLocation[], seqLen: number): TokenBatch {
    if (this.closed) throw new DatasetError('ERR_SHARD_INVALID', `the ${this.split} loader is closed`);
    return assembleBatch(windows, seqLen, ({ shard, offset }, span) =>
      this.readWindow(this.shards[shard] as OpenShard, offset, span),
    );
  }

  private readWindow(shard: OpenShard, offset: number, span: number): Uint32Array {
    const width = bytesPerToken(shard.header.dtype);
    const bytes = new Uint8Array(span * width);
    const position = shard.header.headerLength + offset * width;
    const read = readSync(shard.fd, bytes, 0, bytes.length, position);
    if (read !== bytes.length)
      throw new DatasetError('ERR_SHARD_INVALID', `${shard.entry.file} shrank while open`);
    const window = new Uint32Array(span);
    const bad = decodeTokenIds(bytes, shard.header.dtype, window, 0, shard.header.vocabSize);
    if (bad)
      throw new DatasetError(
        'ERR_SHARD_INVALID',
        `${shard.entry.file}: token ${offset + bad.index} is ${bad.id}`,
      );
    return window;
  }
}

function openShard(dir: string, entry: ShardEntry, vocabSize: number): OpenShard {
  const fd = openSync(join(dir, entry.file), 'r');
  try {
    const head = new Uint8Array(TOKEN_SHARD_HEADER_BYTES);
    readSync(fd, head, 0, head.length, 0);
    const parsed = readTokenShardHeader(head);
    if (!parsed.ok) throw new DatasetError('ERR_SHARD_INVALID', `${entry.file}: ${parsed.error.message}`);
    const { header } = parsed;
    const size = fstatSync(fd).size;
    if (
      header.tokenCount !== entry.tokens ||
      header.vocabSize !== vocabSize ||
      size !== tokenShardByteLength(header)
    ) {
      throw new DatasetError(
        'ERR_SHARD_INVALID',
        `${entry.file}: ${header.tokenCount} tokens, vocab ${header.vocabSize}, ${size} bytes; ` +
          `the manifest says ${entry.tokens} tokens, vocab ${vocabSize}`,
      );
    }
    return { entry, fd, header };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** Opens one split of the data set in `dir`. */
export function openSplit(dir: string, split: SplitName): Promise<SplitLoader> {
  return SplitLoader.open(dir, split);
}

/**
 * Every token of a split, shards concatenated in order, fully decoded and checked. For
 * small data (evaluation of a whole split, tests); training should use `openSplit`.
 */
export async function loadSplitTokens(dir: string, split: SplitName): Promise<Uint16Array> {
  const manifest = await readManifest(dir);
  const entries = manifest.splits[split].shards;
  const tokens = new Uint16Array(manifest.splits[split].tokens);
  let at = 0;
  for (const entry of entries) {
    const decoded = decodeTokenShard(await readFile(join(dir, entry.file)));
    if (!decoded.ok) throw new DatasetError('ERR_SHARD_INVALID', `${entry.file}: ${decoded.error.message}`);
    const { header } = decoded.shard;
    if (header.tokenCount !== entry.tokens || header.vocabSize !== manifest.vocabSize) {
      throw new DatasetError(
        'ERR_SHARD_INVALID',
        `${entry.file}: ${header.tokenCount} tokens, vocab ${header.vocabSize}; ` +
          `the manifest says ${entry.tokens} tokens, vocab ${manifest.vocabSize}`,
      );
    }
    tokens.set(decoded.shard.tokens, at);
    at += entry.tokens;
  }
  return tokens;
}
