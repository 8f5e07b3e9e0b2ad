// Where a headless volunteer keeps what it writes: its key, stamps, receipts and last committed
// state in one folder, and the autotune choices (per machine, so shared by every volunteer of a
// state root). `--state DIR` holds all of it; without it, both go under the state root
// (POTLUCK_STATE, which `npm start -- --state DIR --volunteers N` sets to its own folder for its
// children, so two relays never share a volunteer's identity: issue 17).
import { join, resolve } from 'node:path';

export interface VolunteerPaths {
  /** The volunteer's own folder (FileVolunteerStore). */
  readonly stateDir: string;
  /** The JSON file of kernel autotune choices (kernels/node/tune-cache-file.ts). */
  readonly tuneCacheFile: string;
}

/** The name as a folder name: anything but A-Z a-z 0-9 _ - becomes `_`. */
export function volunteerFolderName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}

/**
 * The paths of volunteer `name`: inside `given` (its `--state`) when there is one, else
 * `<stateRoot>/volunteer/<name>` and `<stateRoot>/autotune.json`.
 */
export function volunteerPaths(name: string, given: string | undefined, stateRoot: string): VolunteerPaths {
  if (given !== undefined) {
    const stateDir = resolve(given);
    return { stateDir, tuneCacheFile: join(stateDir, 'autotune.json') };
  }
  const root = resolve(stateRoot);
  return {
    stateDir: join(root, 'volunteer', volunteerFolderName(name)),
    tuneCacheFile: join(root, 'autotune.json'),
  };
}
