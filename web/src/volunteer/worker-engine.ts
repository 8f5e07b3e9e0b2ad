// The page's view of the worker's engine: a VolunteerEngine whose calls cross comlink, with
// tokens and frames transferred and the step callback proxied back to the page.
import { proxy, type Remote, transfer } from 'comlink';
import type { VolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import type { WorkerEngine } from '../worker/volunteer-api.ts';

export function workerEngine(remote: Remote<WorkerEngine>): VolunteerEngine {
  return {
    stateHash: () => remote.stateHash(),
    exportState: () => remote.exportState(),
    // Copied, not transferred: the runtime stores the same bytes after importing them.
    importState: (bytes, hash) => remote.importState(bytes, hash),
    train: (work, onStep) =>
      remote.train(transfer(work, [work.tokens.buffer]), onStep ? proxy(onStep) : undefined),
    contribute: (work) => remote.contribute(work),
    finish: (work, counted) => remote.finish(work, counted),
    exportLocalState: (round) => remote.exportLocalState(round),
    importLocalState: (bytes) => remote.importLocalState(bytes),
    commit: (round, hash) => remote.commit(round, hash),
    discard: () => remote.discard(),
    setDutyCycle: (d) => remote.setDutyCycle(d),
    setPaused: (p) => remote.setPaused(p),
    destroy: () => remote.destroy(),
  };
}
