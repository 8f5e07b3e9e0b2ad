// The test's dedicated Worker: plain training from scratch (the same Trainer as the Node
// command, kernels/train/trainer.ts) on the worker's GPU, reached through comlink, with a
// validation loss before and after.
import { expose } from 'comlink';
import { createModel } from '../../kernels/gpt/create-model.ts';
import { idbTuneCache } from '../../kernels/gpu/tune-cache-idb.ts';
import { randomBatches, Trainer } from '../../kernels/train/trainer.ts';
import { initParams } from '../../protocol/init-params.ts';
import { createRng } from '../../protocol/rng.ts';
import { workerGpu } from '../../web/src/worker/worker-gpu.ts';
import { MemorySplit } from '../helpers/memory-split.ts';
import type { TrainProgress, TrainRequest, TrainResult, TrainWorkerApi } from './train-api.ts';

const gpuContext = workerGpu('worker');

const api: TrainWorkerApi = {
  async adapter() {
    return (await gpuContext()).adapter;
  },

  async train(request: TrainRequest, onProgress?: (progress: TrainProgress) => void): Promise<TrainResult> {
    const { config } = request;
    const ctx = await gpuContext();
    const model = await createModel(ctx, config.model, {
      B: config.batchSize,
      T: config.seqLen,
      params: initParams(config.model, config.seed),
      tuneCache: idbTuneCache(),
    });
    try {
      const train = new MemorySplit(request.train, config.model.vocabSize);
      const val = new MemorySplit(request.val, config.model.vocabSize);
      const trainer = new Trainer({
        model,
        config,
        train: randomBatches(train, createRng(config.seed + 1)),
        now: () => performance.now(),
      });
      const valBefore = await trainer.validate(val);
      const losses: number[] = [];
      while (!trainer.done) {
        const report = await trainer.trainStep();
        losses.push(report.loss);
        onProgress?.({ step: report.step, loss: report.loss, tokensPerSec: report.tokensPerSec });
      }
      const valAfter = await trainer.validate(val);
      return { losses, valBefore, valAfter, paramCount: model.layout.paramCount, adapter: ctx.adapter };
    } finally {
      model.destroy();
    }
  },
};

expose(api);
