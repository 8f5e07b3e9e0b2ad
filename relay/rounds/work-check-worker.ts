// The worker thread behind work-check-thread.ts: each message is one check, answered in turn.
import { parentPort } from 'node:worker_threads';
import { checkWork, type WorkToCheck, type WorkVerdict } from './work-check.ts';

parentPort?.on('message', ({ id, work }: { id: number; work: WorkToCheck }) => {
  try {
    const verdict: WorkVerdict = checkWork(work);
    parentPort?.postMessage({ id, verdict });
  } catch (error) {
    // The relay's own failure, no evidence against the member: reported as an error, not a verdict.
    parentPort?.postMessage({ id, error: String(error) });
  }
});
