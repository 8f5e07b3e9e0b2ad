// A and B as two ordinary prepared data sets (shards and manifest, relay/datasets/), each with
// its own every-20th-document validation split, read with the train command's loader. Each
// lives in a folder named after its genres, so a cached preparation is reused only for the
// same split (ensurePrepared refuses a folder prepared from another source).
import { join } from 'node:path';
import { ensurePrepared } from '../../../relay/datasets/ensure-prepared.ts';
import { openSplit, type SplitLoader } from '../../../relay/datasets/loader.ts';
import { type CategorySources, categorySources } from './category-split.ts';

export interface Distribution {
  readonly name: 'A' | 'B';
  readonly documents: number;
  readonly train: SplitLoader;
  readonly val: SplitLoader;
}

export async function prepareDistributions(
  dir: string,
  sources: CategorySources = categorySources(),
): Promise<{ a: Distribution; b: Distribution }> {
  const open = async (name: 'A' | 'B', source: CategorySources['a']): Promise<Distribution> => {
    const outDir = join(dir, source.categories.join(''));
    const { manifest } = await ensurePrepared(outDir, source);
    return {
      name,
      documents: manifest.splits.train.documents + manifest.splits.val.documents,
      train: await openSplit(outDir, 'train'),
      val: await openSplit(outDir, 'val'),
    };
  };
  return { a: await open('A', sources.a), b: await open('B', sources.b) };
}
