// A TuneCache in memory: for tests, and for runs that should not remember anything.
import type { TuneCache } from '../../kernels/gpu/autotune.ts';

export function memoryTuneCache(entries: Map<string, string> = new Map()): TuneCache {
  return {
    get: async (key) => entries.get(key),
    set: async (key, value) => {
      entries.set(key, value);
    },
  };
}
