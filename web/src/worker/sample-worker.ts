// The leaderboard's sample worker: the run's model on the viewer's GPU, forward pass only, so the
// board can show what the model writes now. It holds one GpuGpt built for (B, T) =
// (1, contextLength) and swaps in each new checkpoint's weights; the page runs the generation
// loop (leaderboard/generate.ts) one forward pass per token, so it can stop or restart it
// between tokens. In a worker so that seconds of GPU work never stall the page.
import { expose, transfer } from 'comlink';
import { createModel } from '../../../kernels/gpt/create-model.ts';
import type { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import { GpuError } from '../../../kernels/gpu/errors.ts';
import { idbTuneCache } from '../../../kernels/gpu/tune-cache-idb.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { paramsFromSafetensors } from '../../../protocol/hf-checkpoint.ts';
import type { SampleWorkerApi } from './sample-api.ts';
import { workerGpu } from './worker-gpu.ts';

const gpuContext = workerGpu('sample');
let built: { shape: string; model: GpuGpt } | null = null;

const shapeKey = (m: GptConfig) => `${m.vocabSize}|${m.contextLength}|${m.dModel}|${m.nLayer}|${m.nHead}`;

/** The GPU model for `config`, built once per shape; a run with another shape replaces it. */
async function modelFor(config: GptConfig, params: Float32Array): Promise<GpuGpt> {
  const shape = shapeKey(config);
  if (built?.shape === shape) {
    built.model.setParams(params);
    return built.model;
  }
  built?.model.destroy();
  built = null;
  const model = await createModel(await gpuContext(), config, {
    B: 1,
    T: config.contextLength,
    params,
    tuneCache: idbTuneCache(),
  });
  built = { shape, model };
  return model;
}

const api: SampleWorkerApi = {
  async probe() {
    try {
      return { kind: 'ready', adapter: (await gpuContext()).adapter };
    } catch (error) {
      if (error instanceof GpuError) return { kind: 'unavailable', code: error.code, message: error.message };
      throw error;
    }
  },

  async load(config, checkpoint) {
    const read = paramsFromSafetensors(config, checkpoint);
    if (!read.ok) return { ok: false, error: read.error };
    await modelFor(config, read.params);
    return { ok: true };
  },

  async nextLogits(inputs, last) {
    if (!built) throw new GpuError('ERR_STATE', 'no checkpoint loaded');
    const { model } = built;
    const V = model.config.vocabSize;
    const logits = (await model.logits(inputs)).slice(last * V, (last + 1) * V);
    return transfer(logits, [logits.buffer]);
  },
};

expose(api);
