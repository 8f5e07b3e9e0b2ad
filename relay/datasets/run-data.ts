// The data a run trains on, opened: its one dataset, or each dataset of its mixture
// (protocol/data-mixture.ts) laid end to end in the mixture's order. The run's token ranges are
// offsets into that one token space, so a range names its dataset by where it lies, and the
// manifest served at `/api/runs/:id/dataset` lists every dataset's shards in the same order
// (renumbered train_000.bin, ...): a volunteer turns a range into shard reads exactly as it
// does for a single dataset. A single dataset is served as it is, its manifest untouched.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type DatasetChoice,
  type MixtureSpan,
  mixtureParts,
  mixtureShares,
  mixtureSpans,
} from '../../protocol/data-mixture.ts';
import type { DatasetManifest, SplitManifest, SplitName } from '../../protocol/dataset-manifest.ts';
import { SPLITS } from '../../protocol/dataset-manifest.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import { decodeTokenShard } from '../../protocol/token-shard.ts';
import { countTokens, entropyFromCounts } from '../../protocol/unigram-entropy.ts';
import type { Logger } from '../logger.ts';
import { DatasetError } from './errors.ts';
import { loadSplitTokens } from './loader.ts';
import { type OpenedDataset, openDataset } from './open-dataset.ts';

export interface RunDataPart {
  /** The dataset as the run config names it. */
  readonly name: string;
  /** Its share of the tokens handed out: weight over the weights' sum. */
  readonly share: number;
  readonly dir: string;
  readonly manifest: DatasetManifest;
  /** Its training tokens in the run's token space. */
  readonly span: MixtureSpan;
}

export interface RunData {
  /** What `/api/runs/:id/dataset` serves: the dataset's own manifest, or the mixture's. */
  readonly manifest: DatasetManifest;
  readonly parts: readonly RunDataPart[];
}

/**
 * The fewest tokens one range of `config`'s run takes: a round's inner step (B windows of T + 1
 * tokens stepping by T), or a pipeline step's microbatches. A dataset of a mixture with fewer
 * training tokens could never be handed out, and its share would silently go to the others.
 */
export function fewestRangeTokens(config: RunConfig): number {
  const { batchSize, seqLen } = config.inner;
  const sequences = config.pipeline
    ? config.pipeline.microbatches * config.pipeline.microbatchSize
    : batchSize;
  return sequences * seqLen + 1;
}

/**
 * Opens every dataset `choice` names ("brown" is prepared on first use); checks they fit
 * together, and that each dataset of a mixture holds `minTrainTokens` (fewestRangeTokens).
 */
export async function openRunData(
  choice: DatasetChoice,
  stateDir: string,
  log: Logger,
  minTrainTokens = 1,
): Promise<RunData> {
  const named = mixtureParts(choice);
  const shares = mixtureShares(named);
  const opened: OpenedDataset[] = [];
  for (const part of named) opened.push(await openDataset(part.dataset, stateDir, log));
  const dirs = opened.map((o) => resolve(o.dir));
  const twice = dirs.find((dir, i) => dirs.indexOf(dir) !== i);
  if (twice) throw new DatasetError('ERR_MIXTURE_MISMATCH', `the mixture names ${twice} twice`);
  const spans = mixtureSpans(opened.map((o) => o.manifest.splits.train.tokens));
  const parts = named.map((part, i) => ({
    name: part.dataset,
    share: shares[i] as number,
    dir: (opened[i] as OpenedDataset).dir,
    manifest: (opened[i] as OpenedDataset).manifest,
    span: spans[i] as MixtureSpan,
  }));
  const [first] = parts;
  if (!first) throw new DatasetError('ERR_MIXTURE_MISMATCH', 'a run needs a dataset');
  if (typeof choice === 'string') return { manifest: first.manifest, parts };
  for (const { name, manifest } of parts)
    if (manifest.splits.train.tokens < minTrainTokens)
      throw new DatasetError(
        'ERR_SPLIT_TOO_SHORT',
        `${name} has ${manifest.splits.train.tokens} training tokens and one range of this run takes ` +
          `${minTrainTokens}: its share of the mixture could never be trained`,
      );
  return { manifest: await mixtureManifest(parts), parts };
}

/**
 * The file behind shard `n` of `split` as the run serves it: the mixture's shards are its
 * datasets' shards in order. Null when there is no such shard.
 */
export function shardFile(data: RunData, split: SplitName, n: number): string | null {
  let first = 0;
  for (const part of data.parts) {
    const shards = part.manifest.splits[split].shards;
    const shard = shards[n - first];
    if (n >= first && shard) return join(part.dir, shard.file);
    first += shards.length;
  }
  return null;
}

/** Every token of a split in the run's token space: each dataset's, end to end. */
export async function loadRunSplit(data: RunData, split: SplitName): Promise<Uint16Array> {
  const pieces: Uint16Array[] = [];
  for (const part of data.parts) pieces.push(await loadSplitTokens(part.dir, split));
  if (pieces.length === 1) return pieces[0] as Uint16Array;
  const out = new Uint16Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/**
 * The manifest of a mixture: its datasets' shards end to end, renumbered, with the split's
 * unigram entropy counted over all of them. The datasets must share their tokenizer, or a token
 * would mean two things in one run.
 */
async function mixtureManifest(parts: readonly RunDataPart[]): Promise<DatasetManifest> {
  const first = (parts[0] as RunDataPart).manifest;
  for (const { name, manifest } of parts)
    if (
      manifest.tokenizer !== first.tokenizer ||
      manifest.vocabSize !== first.vocabSize ||
      manifest.documentSeparator !== first.documentSeparator
    )
      throw new DatasetError(
        'ERR_MIXTURE_MISMATCH',
        `${name} is tokenized by ${manifest.tokenizer} (vocab ${manifest.vocabSize}), ` +
          `the mixture's first dataset by ${first.tokenizer} (vocab ${first.vocabSize})`,
      );
  const splits = {} as Record<SplitName, SplitManifest>;
  for (const split of SPLITS) splits[split] = await mixtureSplit(parts, split, first.vocabSize);
  return {
    format: first.format,
    version: first.version,
    tokenizer: first.tokenizer,
    vocabSize: first.vocabSize,
    source: { kind: 'mixture', datasets: parts.map((p) => p.name) },
    splitRule: `each dataset's own: ${parts.map((p) => `${p.name}: ${p.manifest.splitRule}`).join('; ')}`,
    documentSeparator: first.documentSeparator,
    shardTokens: Math.max(...parts.map((p) => p.manifest.shardTokens)),
    splits,
  };
}

async function mixtureSplit(
  parts: readonly RunDataPart[],
  split: SplitName,
  vocabSize: number,
): Promise<SplitManifest> {
  const counts = new Float64Array(vocabSize);
  const shards = [];
  let documents = 0;
  let tokens = 0;
  for (const { dir, manifest } of parts) {
    const own = manifest.splits[split];
    documents += own.documents;
    tokens += own.tokens;
    for (const shard of own.shards) {
      const decoded = decodeTokenShard(await readFile(join(dir, shard.file)));
      if (!decoded.ok)
        throw new DatasetError('ERR_SHARD_INVALID', `${dir}/${shard.file}: ${decoded.error.message}`);
      countTokens(decoded.shard.tokens, vocabSize, counts);
      shards.push({ file: `${split}_${String(shards.length).padStart(3, '0')}.bin`, tokens: shard.tokens });
    }
  }
  return { documents, tokens, shards, unigramEntropyNats: entropyFromCounts(counts) };
}

/** The shard pool's datasets (relay/rounds/shard-pool.ts): each one's training tokens and share. */
export function poolDatasets(data: RunData): { tokens: number; share: number }[] {
  return data.parts.map((p) => ({ tokens: p.manifest.splits.train.tokens, share: p.share }));
}
