// The donated GPU's worker: the round engine (kernels/round/volunteer-engine.ts), or in a
// pipeline run the stage engine (kernels/pipeline/stage-volunteer-engine.ts), behind comlink
// (engine-comlink.ts); before either, the identity's proof-of-work stamp. The page's peer runtime drives it; tokens, frames and state files cross
// as transferred buffers, never copies.
import { expose } from 'comlink';
import { idbTuneCache } from '../../../kernels/gpu/tune-cache-idb.ts';
import { LocalStageVolunteerEngine } from '../../../kernels/pipeline/stage-volunteer-engine.ts';
import { LocalVolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import type { RunConfig } from '../../../protocol/run-config.ts';
import { mintStamp } from '../peer/stamp-mint.ts';
import { serveEngine } from './engine-comlink.ts';
import type { VolunteerWorkerApi } from './volunteer-api.ts';
import { workerGpu } from './worker-gpu.ts';

const gpuContext = workerGpu('volunteer');

const api: VolunteerWorkerApi = {
  async adapter() {
    const ctx = await gpuContext();
    return { ...ctx.adapter, maxBufferBytes: ctx.device.limits.maxStorageBufferBindingSize };
  },

  async createEngine(config: RunConfig, noiseStream: number) {
    const ctx = await gpuContext();
    const engine = await LocalVolunteerEngine.create({
      ctx,
      config,
      tuneCache: idbTuneCache(),
      noiseStream,
    });
    return serveEngine(engine);
  },

  async createStageEngine(config: RunConfig, noiseStream: number) {
    // The stage's weights never leave the worker: only frames cross.
    return serveEngine(new LocalStageVolunteerEngine(await gpuContext(), config, noiseStream));
  },

  mintStamp(runId, publicKey, bits, onProgress) {
    return mintStamp(runId, publicKey, bits, { onProgress });
  },
};

expose(api);
