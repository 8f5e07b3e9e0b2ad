// dataset.json on disk: read and checked against its schema (protocol/dataset-manifest.ts), and
// written last and atomically, so a directory with a manifest is a complete data set.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DatasetManifest, parseManifest } from '../../protocol/dataset-manifest.ts';
import { DatasetError } from './errors.ts';

export const MANIFEST_FILE = 'dataset.json';

/** Reads and checks `dir/dataset.json`; throws DatasetError (MISSING or INVALID). */
export async function readManifest(dir: string): Promise<DatasetManifest> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DatasetError('ERR_MANIFEST_MISSING', `no ${MANIFEST_FILE} in ${dir}`, { cause });
    }
    throw cause;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new DatasetError('ERR_MANIFEST_INVALID', `${path} is not JSON`, { cause });
  }
  const parsed = parseManifest(json);
  if (!parsed.ok) throw new DatasetError('ERR_MANIFEST_INVALID', `${path}: ${parsed.error.message}`);
  return parsed.manifest;
}

/** Writes the manifest through a temporary file and a rename, so readers never see half. */
export async function writeManifest(dir: string, manifest: DatasetManifest): Promise<void> {
  const path = join(dir, MANIFEST_FILE);
  await writeFile(`${path}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}
