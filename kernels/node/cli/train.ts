// `npm run train`: trains the model on the GPU in Node, with a progress bar, periodic
// validation loss, tokens/s, and an optional Hugging Face checkpoint at the end.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SingleBar } from 'cli-progress';
import { initParams } from '../../../protocol/init-params.ts';
import { createRng } from '../../../protocol/rng.ts';
import { DEFAULT_BROWN_DIR, ensurePrepared } from '../../../relay/datasets/ensure-prepared.ts';
import { openSplit } from '../../../relay/datasets/loader.ts';
import { readManifest } from '../../../relay/datasets/manifest.ts';
import { BROWN_SOURCE } from '../../../relay/datasets/source.ts';
import { STATE_DIR } from '../../../relay/state-dir.ts';
import { createModel } from '../../gpt/create-model.ts';
import { randomBatches, Trainer } from '../../train/trainer.ts';
import { writeCheckpoint } from '../checkpoint-files.ts';
import { openNodeContext } from '../open-context.ts';
import { fileTuneCache } from '../tune-cache-file.ts';
import { parseTrainCli, TRAIN_HELP } from './train-options.ts';

/** The JSON line `--json` ends with. */
export interface TrainSummary {
  step: number;
  trainLoss: number;
  valLoss: number;
  unigramEntropy: number;
  tokensPerSec: number;
}

/** Training loss is reported as the mean of this many last steps: one batch is noisy. */
const TRAIN_LOSS_WINDOW = 20;

const say = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (x: number, digits = 4) => x.toFixed(digits);

async function openData(dir: string | null) {
  if (dir === null) {
    const { prepared } = await ensurePrepared(DEFAULT_BROWN_DIR, BROWN_SOURCE);
    if (prepared) say(`prepared the Brown Corpus in ${DEFAULT_BROWN_DIR}`);
    dir = DEFAULT_BROWN_DIR;
  }
  const manifest = await readManifest(dir);
  return { dir, manifest, train: await openSplit(dir, 'train'), val: await openSplit(dir, 'val') };
}

async function main(argv: readonly string[]): Promise<void> {
  const cli = parseTrainCli(argv);
  if (!cli) {
    say(TRAIN_HELP);
    return;
  }
  const { train: config } = cli;
  const data = await openData(cli.dataDir);
  if (data.manifest.vocabSize !== config.model.vocabSize) {
    throw new RangeError(
      `the data's vocabulary (${data.manifest.vocabSize}) differs from the model's (${config.model.vocabSize})`,
    );
  }
  const unigramEntropy = data.manifest.splits.val.unigramEntropyNats;
  const ctx = await openNodeContext('train');
  const { architecture, description } = ctx.adapter;
  say(
    `adapter: ${[architecture, description].filter(Boolean).join(' ')}${ctx.adapter.isSoftware ? ' (CPU)' : ''}`,
  );

  const model = await createModel(ctx, config.model, {
    B: config.batchSize,
    T: config.seqLen,
    params: initParams(config.model, config.seed),
    tuneCache: fileTuneCache(join(STATE_DIR, 'autotune.json')),
    log: say,
  });
  const { dModel, nLayer, nHead, contextLength } = config.model;
  say(
    `model: ${model.layout.paramCount.toLocaleString('en')} parameters (d_model ${dModel}, ${nLayer} layers, ` +
      `${nHead} heads, context ${contextLength}); batch ${config.batchSize} x ${config.seqLen} tokens; ` +
      `${data.train.tokenCount.toLocaleString('en')} training tokens; unigram entropy ${fmt(unigramEntropy)} nats`,
  );

  // Init and batch order draw from separate streams of the same seed.
  const trainer = new Trainer({
    model,
    config,
    train: randomBatches(data.train, createRng(config.seed + 1)),
    now: () => performance.now(),
  });
  let stopping = false;
  const onInterrupt = () => {
    if (stopping) process.exit(130);
    stopping = true;
    say('\ninterrupted: finishing this step (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onInterrupt);

  const bar = new SingleBar({
    format: 'train |{bar}| {value}/{total} steps | loss {loss} | {speed} tok/s | eta {eta_formatted}',
    hideCursor: true,
    etaBuffer: 20,
  });
  bar.start(config.steps, 0, { loss: '-', speed: '-' });
  const recent: number[] = [];
  let timedTokens = 0;
  let timedMs = 0;
  try {
    while (!trainer.done && !stopping) {
      const report = await trainer.trainStep();
      recent.push(report.loss);
      if (recent.length > TRAIN_LOSS_WINDOW) recent.shift();
      // The first step compiles every pipeline: leave it out of the speed.
      if (report.step > 1) {
        timedTokens += config.batchSize * config.seqLen;
        timedMs += (1000 * config.batchSize * config.seqLen) / report.tokensPerSec;
      }
      bar.update(report.step, { loss: fmt(report.loss), speed: Math.round(report.tokensPerSec) });
      if (report.step % config.evalEvery === 0 && report.step < config.steps) {
        const valLoss = await trainer.validate(data.val);
        bar.stop();
        say(
          `step ${report.step}: train ${fmt(mean(recent))} | val ${fmt(valLoss)} | lr ${report.lr.toExponential(2)} | ${Math.round(timedTokens / (timedMs / 1000))} tok/s`,
        );
        bar.start(config.steps, report.step, {
          loss: fmt(report.loss),
          speed: Math.round(report.tokensPerSec),
        });
      }
    }
  } finally {
    bar.stop();
    process.off('SIGINT', onInterrupt);
  }

  const valLoss = await trainer.validate(data.val, cli.finalEvalBatches);
  const summary: TrainSummary = {
    step: trainer.step,
    trainLoss: mean(recent),
    valLoss,
    unigramEntropy,
    tokensPerSec: timedMs > 0 ? timedTokens / (timedMs / 1000) : 0,
  };
  say(
    `done: ${summary.step} steps | train ${fmt(summary.trainLoss)} | val ${fmt(valLoss)} ` +
      `(unigram entropy ${fmt(unigramEntropy)}) | ${Math.round(summary.tokensPerSec)} tok/s`,
  );
  if (cli.outDir) {
    const params = await model.readParams();
    await writeCheckpoint(cli.outDir, config.model, params, {
      step: String(trainer.step),
      valLoss: String(valLoss),
      seed: String(config.seed),
    });
    say(`checkpoint written to ${cli.outDir}`);
  }
  if (cli.json) say(JSON.stringify(summary));
  data.train.close();
  data.val.close();
  model.destroy();
  ctx.destroy();
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
