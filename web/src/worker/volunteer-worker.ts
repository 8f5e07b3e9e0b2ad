// The donated GPU's worker: the round engine (kernels/round/volunteer-engine.ts), or in a
// pipeline run the stage engine (kernels/pipeline/stage-volunteer-engine.ts), behind comlink. The page's peer runtime drives it; tokens, frames and state files cross as
// transferred buffers, never copies.
import { expose, proxy, transfer } from 'comlink';
import { GpuContext } from '../../../kernels/gpu/context.ts';
import { acquireDevice } from '../../../kernels/gpu/device.ts';
import { idbTuneCache } from '../../../kernels/gpu/tune-cache-idb.ts';
import { LocalStageVolunteerEngine } from '../../../kernels/pipeline/stage-volunteer-engine.ts';
import type { RoundWork, StepProgress } from '../../../kernels/round/round-engine.ts';
import type { CountedContribution } from '../../../kernels/round/round-peer.ts';
import { LocalVolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import type { RunConfig } from '../../../protocol/run-config.ts';
import type { VolunteerWorkerApi, WorkerEngine } from './volunteer-api.ts';

let context: Promise<GpuContext> | null = null;

function gpuContext(): Promise<GpuContext> {
  context ??= acquireDevice(self.navigator.gpu, 'volunteer').then((acquired) => new GpuContext(acquired));
  // A failed acquisition is not cached: the volunteer may enable WebGPU and try again.
  context.catch(() => {
    context = null;
  });
  return context;
}

function remoteEngine(engine: LocalVolunteerEngine): WorkerEngine {
  return {
    stateHash: () => engine.stateHash(),
    async exportState() {
      const bytes = await engine.exportState();
      return transfer(bytes, [bytes.buffer]);
    },
    importState: (bytes, hash) => engine.importState(bytes, hash),
    train: (work: RoundWork, onStep?: (p: StepProgress) => void) => engine.train(work, onStep),
    async contribute(work) {
      const frame = await engine.contribute(work);
      return transfer(frame, [frame.buffer]);
    },
    finish: (work, counted: readonly CountedContribution[]) => engine.finish(work, counted),
    async exportLocalState(round) {
      const bytes = await engine.exportLocalState(round);
      return transfer(bytes, [bytes.buffer]);
    },
    importLocalState: (bytes) => engine.importLocalState(bytes),
    commit: (round, hash) => engine.commit(round, hash),
    discard: () => engine.discard(),
    setDutyCycle: (d) => engine.setDutyCycle(d),
    setPaused: (p) => engine.setPaused(p),
    destroy: () => engine.destroy(),
  };
}

const api: VolunteerWorkerApi = {
  async adapter() {
    const ctx = await gpuContext();
    return { ...ctx.adapter, maxBufferBytes: ctx.device.limits.maxStorageBufferBindingSize };
  },

  async createEngine(config: RunConfig, noiseStream: number) {
    const ctx = await gpuContext();
    const totalFloats = paramLayout(config.model).totalFloats;
    const engine = await LocalVolunteerEngine.create({
      ctx,
      config,
      initial: { weights: initParams(config.model, config.seed), momentum: new Float32Array(totalFloats) },
      tuneCache: idbTuneCache(),
      noiseStream,
    });
    return proxy(remoteEngine(engine));
  },

  async createStageEngine(config: RunConfig) {
    // Frames are small next to a round's state files, and comlink clones them; the stage's
    // weights never leave the worker.
    return proxy(new LocalStageVolunteerEngine(await gpuContext(), config));
  },
};

expose(api);
