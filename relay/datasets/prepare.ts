// The prepare step: documents -> tokens -> train/validation shard files + dataset.json, the
// way llm.c's dev/data scripts turn a corpus into .bin files once so training only reads.
// The output depends only on the documents, the tokenizer and the options (no timestamps),
// so preparing twice gives byte-identical files.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  DatasetManifest,
  SourceRecord,
  SplitManifest,
  SplitName,
} from '../../protocol/dataset-manifest.ts';
import {
  isShardFileName,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  SPLITS,
} from '../../protocol/dataset-manifest.ts';
import type { Tokenizer } from '../../protocol/tokenizer.ts';
import { byteTokenizer } from '../../protocol/tokenizer.ts';
import { countTokens, entropyFromCounts } from '../../protocol/unigram-entropy.ts';
import type { SourceDocument } from './document.ts';
import { DatasetError } from './errors.ts';
import { MANIFEST_FILE, writeManifest } from './manifest.ts';
import { ShardWriter } from './shard-writer.ts';
import {
  DOCUMENT_SEPARATOR,
  describeSplitRule,
  documentSplit,
  splitMode,
  trainTokenCount,
  VAL_EVERY,
} from './split.ts';

/** Tokens per shard file by default: 10M uint16 tokens, 20 MB, as llm.c's shards hold 100M. */
export const DEFAULT_SHARD_TOKENS = 10_000_000;

export interface PrepareProgress {
  readonly documentsDone: number;
  readonly documentsTotal: number;
  /** Tokens written so far, both splits. */
  readonly tokens: number;
}

export interface PrepareOptions {
  readonly documents: readonly SourceDocument[];
  /** Recorded in the manifest; see `describeSource`. */
  readonly source: SourceRecord;
  readonly outDir: string;
  readonly tokenizer?: Tokenizer; // byte-level unless told otherwise
  readonly shardTokens?: number; // tokens per shard file
  readonly valEvery?: number; // one document in this many is validation
  /** Called after each document; the CLI draws a progress bar from it. */
  readonly onProgress?: (progress: PrepareProgress) => void;
}

/** Per-split state while writing. */
interface SplitSink {
  readonly writer: ShardWriter;
  readonly counts: Float64Array; // (vocabSize,) token frequencies, for the unigram entropy
  documents: number;
}

/** Tokenizes the documents and writes `outDir`'s shards and manifest; returns the manifest. */
export async function prepareDataset(options: PrepareOptions): Promise<DatasetManifest> {
  const { documents, source, outDir, onProgress } = options;
  const tokenizer = options.tokenizer ?? byteTokenizer;
  const shardTokens = options.shardTokens ?? DEFAULT_SHARD_TOKENS;
  const valEvery = options.valEvery ?? VAL_EVERY;
  if (documents.length === 0) throw new DatasetError('ERR_NO_DOCUMENTS', 'nothing to prepare: no documents');

  await clearPrepared(outDir);
  const sinks = {} as Record<SplitName, SplitSink>;
  for (const split of SPLITS) {
    sinks[split] = {
      writer: new ShardWriter(outDir, split, shardTokens, tokenizer.vocabSize),
      counts: new Float64Array(tokenizer.vocabSize),
      documents: 0,
    };
  }
  const separator = tokenizer.encode(DOCUMENT_SEPARATOR);
  const emit = async (split: SplitName, tokens: Uint16Array) => {
    countTokens(tokens, tokenizer.vocabSize, sinks[split].counts);
    await sinks[split].writer.append(tokens);
  };
  const report = (done: number) =>
    onProgress?.({
      documentsDone: done,
      documentsTotal: documents.length,
      tokens: sinks.train.writer.tokenCount + sinks.val.writer.tokenCount,
    });

  const mode = splitMode(documents.length, valEvery);
  if (mode === 'documents') {
    for (const [i, document] of documents.entries()) {
      const split = documentSplit(i, valEvery);
      if (sinks[split].documents > 0) await emit(split, separator);
      await emit(split, tokenizer.encode(document.text));
      sinks[split].documents++;
      report(i + 1);
    }
  } else {
    // Few documents: treat them as one stream (joined by the separator) and cut it once.
    const encoded = documents.map((d) => tokenizer.encode(d.text));
    const total = encoded.reduce((n, t) => n + t.length, 0) + separator.length * (encoded.length - 1);
    const cut = trainTokenCount(total, valEvery);
    let offset = 0;
    /** Sends the part of `tokens` before the cut to train, the rest to val; says which got any. */
    const emitAcrossCut = async (tokens: Uint16Array) => {
      const trainPart = tokens.subarray(0, Math.max(0, cut - offset));
      const valPart = tokens.subarray(trainPart.length);
      offset += tokens.length;
      if (trainPart.length > 0) await emit('train', trainPart);
      if (valPart.length > 0) await emit('val', valPart);
      return { train: trainPart.length > 0, val: valPart.length > 0 };
    };
    for (const [i, tokens] of encoded.entries()) {
      if (i > 0) await emitAcrossCut(separator);
      const reached = await emitAcrossCut(tokens);
      // A document counts in each split it reaches: the one the cut falls in counts twice.
      if (reached.train) sinks.train.documents++;
      if (reached.val) sinks.val.documents++;
      report(i + 1);
    }
  }

  const splits = {} as Record<SplitName, SplitManifest>;
  for (const split of SPLITS) {
    const sink = sinks[split];
    const shards = await sink.writer.finish();
    splits[split] = {
      documents: sink.documents,
      tokens: sink.writer.tokenCount,
      shards,
      unigramEntropyNats: entropyFromCounts(sink.counts),
    };
  }
  if (splits.train.tokens + splits.val.tokens === 0) {
    throw new DatasetError('ERR_NO_DOCUMENTS', 'nothing to prepare: the documents are empty');
  }
  const manifest: DatasetManifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    tokenizer: tokenizer.name,
    vocabSize: tokenizer.vocabSize,
    source,
    splitRule: describeSplitRule(mode, valEvery),
    documentSeparator: DOCUMENT_SEPARATOR,
    shardTokens,
    splits,
  };
  await writeManifest(outDir, manifest);
  return manifest;
}

/**
 * Removes a previous preparation's manifest first (so a crash part-way leaves no manifest
 * pointing at half-rewritten shards), then its shard files (so none outlive the new set).
 * Only our own file names are touched: the directory may hold other things.
 */
async function clearPrepared(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await rm(join(dir, MANIFEST_FILE), { force: true });
  for (const name of await readdir(dir)) {
    if (isShardFileName(name)) await rm(join(dir, name), { force: true });
  }
}
