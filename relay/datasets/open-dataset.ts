// The relay's dataset by name or path: "brown" is the Brown Corpus, prepared into the state
// folder on first use; anything else is a folder made by `npm run prepare-data`.
import { join, resolve } from 'node:path';
import type { DatasetManifest } from '../../protocol/dataset-manifest.ts';
import type { Logger } from '../logger.ts';
import { ensurePrepared } from './ensure-prepared.ts';
import { readManifest } from './manifest.ts';
import { BROWN_SOURCE } from './source.ts';

export interface OpenedDataset {
  readonly dir: string;
  readonly manifest: DatasetManifest;
}

export async function openDataset(nameOrPath: string, stateDir: string, log: Logger): Promise<OpenedDataset> {
  if (nameOrPath === 'brown') {
    const dir = join(stateDir, 'data', 'brown');
    const { manifest, prepared } = await ensurePrepared(dir, BROWN_SOURCE);
    if (prepared) log.info({ dir, tokens: manifest.splits.train.tokens }, 'prepared the Brown Corpus');
    return { dir, manifest };
  }
  const dir = resolve(nameOrPath);
  return { dir, manifest: await readManifest(dir) };
}
