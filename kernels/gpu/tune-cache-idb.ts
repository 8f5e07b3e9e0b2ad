// A TuneCache in IndexedDB through idb-keyval, for the browser worker (IndexedDB exists in
// dedicated workers). Its own database, so clearing it never touches the volunteer's identity
// or checkpoints.
import { createStore, get, set, type UseStore } from 'idb-keyval';
import type { TuneCache } from './autotune.ts';

export function idbTuneCache(store: UseStore = createStore('potluck-autotune', 'choices')): TuneCache {
  return {
    get: (key) => get<string>(key, store),
    set: (key, value) => set(key, value, store),
  };
}
