// The relay's work checks off its event loop: redoing a round of the default model takes the
// CPU minutes (README, "Verified credit"), which on the main thread would stall every socket
// and request meanwhile. One worker thread runs the checks one after another; the relay's
// process keeps serving. The worker is this project's TypeScript: its .mjs start registers tsx.
import { Worker } from 'node:worker_threads';
import type { WorkToCheck, WorkVerdict } from './work-check.ts';

export interface WorkCheckThread {
  check(work: WorkToCheck): Promise<WorkVerdict>;
  close(): Promise<void>;
}

export function startWorkCheckThread(): WorkCheckThread {
  let worker: Worker | null = null;
  let next = 0;
  const waiting = new Map<number, { resolve: (v: WorkVerdict) => void; reject: (e: unknown) => void }>();
  const failAll = (error: unknown) => {
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
    worker = null;
  };
  const started = () => {
    if (worker) return worker;
    const w = new Worker(new URL('./work-check-worker.mjs', import.meta.url));
    w.on('message', (reply: { id: number; verdict?: WorkVerdict; error?: string }) => {
      const entry = waiting.get(reply.id);
      waiting.delete(reply.id);
      if (reply.verdict) entry?.resolve(reply.verdict);
      else entry?.reject(new Error(reply.error ?? 'the work check failed'));
    });
    w.on('error', failAll);
    w.on('exit', (code) => failAll(new Error(`the work-check thread exited (${code})`)));
    // Idle, it must not keep the relay's process alive.
    w.unref();
    worker = w;
    return w;
  };
  return {
    check(work) {
      const id = next++;
      return new Promise<WorkVerdict>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        started().postMessage({ id, work });
      });
    },
    async close() {
      const w = worker;
      worker = null;
      await w?.terminate();
    },
  };
}
