// A TuneCache in a JSON file, for the Node commands (train, bench, headless volunteer).
// Writes go to a temporary file renamed over the old one, so a crash never leaves half a file;
// a missing or unreadable file reads as empty (the choices are only a speed-up).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TuneCache } from '../gpu/autotune.ts';

export function fileTuneCache(path: string): TuneCache {
  // Writes are chained so concurrent set() calls do not lose each other's entries.
  let pending: Promise<void> = Promise.resolve();

  async function load(): Promise<Record<string, string>> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === 'object' && value !== null ? (value as Record<string, string>) : {};
    } catch {
      return {}; // corrupt: start over, the next set() rewrites it
    }
  }

  return {
    async get(key) {
      await pending;
      const value = (await load())[key];
      return typeof value === 'string' ? value : undefined;
    },
    set(key, value) {
      const write = pending.then(async () => {
        const entries = await load();
        entries[key] = value;
        await mkdir(dirname(path), { recursive: true });
        const temporary = `${path}.${process.pid}.tmp`;
        await writeFile(temporary, `${JSON.stringify(entries, null, 2)}\n`);
        await rename(temporary, path);
      });
      pending = write.catch(() => undefined); // one failed write must not block the next
      return write;
    },
  };
}
