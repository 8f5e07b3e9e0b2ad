// "What the model writes now": the run's newest checkpoint continues the viewer's prompt, run on
// the viewer's GPU by the sample worker (web/src/worker/sample-worker.ts). The page's poll hands
// every run summary to follow(); a new model hash fetches the new weights and writes the current
// prompt again. One piece of work at a time: a commit during a sample waits for it to finish (so
// a run that commits faster than this GPU writes still shows whole samples), while the viewer's
// own request stops it at once. Nothing here can break the rest of the board: every failure ends
// as a sentence in the panel.
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { createRng } from '../../../protocol/rng.ts';
import type { RunSummary } from '../../../protocol/run-api.ts';
import { byteTokenizer } from '../../../protocol/tokenizer.ts';
import type { SampleWorkerApi } from '../worker/sample-api.ts';
import type { CheckpointFetch } from './checkpoint-fetch.ts';
import { generate } from './generate.ts';
import { type SampleSource, type SampleView, weightsName } from './sample-view.ts';

/** Bytes written per sample unless the page's URL asks for another count. */
export const DEFAULT_SAMPLE_BYTES = 200;
/** The most the URL may ask for: each byte is one forward pass. */
const MAX_SAMPLE_BYTES = 2_000;

/** `?sample-bytes=N` (fewer bytes, for tests on a slow GPU), else DEFAULT_SAMPLE_BYTES. */
export function sampleBytesFrom(search: string): number {
  const asked = Number(new URLSearchParams(search).get('sample-bytes') ?? Number.NaN);
  return Number.isInteger(asked) && asked >= 1 && asked <= MAX_SAMPLE_BYTES ? asked : DEFAULT_SAMPLE_BYTES;
}

const HOW_TO_GET_WEBGPU =
  'use Chrome or Edge 113 or newer (on Linux, start it with --enable-unsafe-webgpu), or Safari 26 / Firefox 141 with WebGPU enabled. The rest of the board works without it.';

export interface SamplePanelOptions {
  /** The sample worker; null where the browser has no navigator.gpu at all. */
  readonly model: SampleWorkerApi | null;
  /** The run's model shape (GET /api/runs/:id). */
  readonly modelOf: (runId: string) => Promise<GptConfig>;
  readonly fetchCheckpoint: (runId: string, heldHash: string | null) => Promise<CheckpointFetch>;
  /** A fresh seed per sample (protocol/rng.ts): the same seed, prompt and weights write the same text. */
  readonly seed: () => number;
  /** Bytes per sample. */
  readonly bytes: number;
}

interface Checkpoint extends SampleSource {
  readonly runId: string;
}

interface Loaded extends Checkpoint {
  readonly model: GptConfig;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class SamplePanel {
  /** The newest checkpoint the relay named. */
  private latest: Checkpoint | null = null;
  /** The weights in the worker. */
  private loaded: Loaded | null = null;
  /** A checkpoint that would not load: fetched again only when the viewer asks. */
  private refusedHash: string | null = null;
  /** The weights the shown sample was written with. */
  private writtenHash: string | null = null;
  /** The viewer asked for a sample that has not started yet. */
  private asked = false;
  private busy = false;
  /** More to do once the current piece of work ends. */
  private again = false;
  private writing: AbortController | null = null;
  private readonly usable: Promise<boolean>;

  constructor(
    private readonly view: SampleView,
    private readonly options: SamplePanelOptions,
  ) {
    view.onGenerate(() => this.generateNow());
    view.waiting('Loading the run…');
    this.usable = this.probe();
  }

  /** The page's poll saw `run`: write again when its checkpoint is not the one loaded. */
  follow(run: RunSummary): void {
    const { checkpoint } = run;
    if (!checkpoint) {
      if (!this.loaded) this.view.waiting('No checkpoint stored yet: the model writes once one is.');
      return;
    }
    this.latest = { runId: run.id, ...checkpoint };
    const known =
      checkpoint.modelHash === this.loaded?.modelHash || checkpoint.modelHash === this.refusedHash;
    if (!known) this.schedule();
  }

  /** The viewer asked for a sample: stop the one being written and start over. */
  generateNow(): void {
    this.refusedHash = null;
    this.asked = true;
    this.writing?.abort(new Error('the viewer asked for a new sample'));
    this.schedule();
  }

  private async probe(): Promise<boolean> {
    const { model } = this.options;
    if (!model) {
      this.view.unsupported(
        `Your browser has no WebGPU, so it can't run the model here; ${HOW_TO_GET_WEBGPU}`,
      );
      return false;
    }
    const probe = await model
      .probe()
      .catch((error: unknown) => ({ kind: 'unavailable', message: messageOf(error) }) as const);
    if (probe.kind === 'ready') return true;
    this.view.unsupported(
      `Your browser has WebGPU but gave no GPU (${probe.message}), so it can't run the model here; ${HOW_TO_GET_WEBGPU}`,
    );
    return false;
  }

  private schedule(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.work().finally(() => {
      this.busy = false;
    });
  }

  private async work(): Promise<void> {
    const worker = this.options.model;
    if (!worker || !(await this.usable)) return;
    do {
      this.again = false;
      const target = this.latest;
      if (!target || !(await this.loadIfNew(target, worker)) || !this.loaded) continue;
      if (this.asked || this.loaded.modelHash !== this.writtenHash) {
        this.asked = false;
        this.writtenHash = this.loaded.modelHash;
        await this.write(this.loaded, worker);
      }
    } while (this.again);
  }

  /** Brings the worker to `target`'s weights; false (with the reason shown) when it cannot. */
  private async loadIfNew(target: Checkpoint, worker: SampleWorkerApi): Promise<boolean> {
    const loaded = this.loaded;
    if (target.modelHash === loaded?.modelHash) return true;
    try {
      this.view.waiting(`Loading ${weightsName(target.round)}…`);
      const model = loaded?.runId === target.runId ? loaded.model : await this.options.modelOf(target.runId);
      if (model.vocabSize !== byteTokenizer.vocabSize) {
        throw new Error(`this run's model reads ${model.vocabSize} tokens, and the panel writes bytes only`);
      }
      const fetched = await this.options.fetchCheckpoint(target.runId, loaded?.modelHash ?? null);
      if (fetched.kind === 'unchanged') return loaded !== null; // the relay still holds ours
      const read = await worker.load(model, fetched.bytes);
      if (!read.ok) throw new Error(`${read.error.code}: ${read.error.message}`);
      this.loaded = { runId: target.runId, round: fetched.round, modelHash: fetched.modelHash, model };
      return true;
    } catch (error) {
      this.refusedHash = target.modelHash;
      this.view.failed(`Could not load ${weightsName(target.round)}: ${messageOf(error)}`);
      return false;
    }
  }

  private async write(loaded: Loaded, worker: SampleWorkerApi): Promise<void> {
    const { prompt, temperature } = this.view.request();
    const tokens = byteTokenizer.encode(prompt);
    if (tokens.length === 0) {
      this.view.failed('Write a prompt first: the model continues your text.');
      return;
    }
    const count = this.options.bytes;
    const writing = new AbortController();
    this.writing = writing;
    this.view.showSample(prompt, []);
    this.view.writing(0, count, loaded);
    try {
      await generate({
        prompt: tokens,
        contextLength: loaded.model.contextLength,
        count,
        temperature,
        rng: createRng(this.options.seed()),
        nextLogits: (inputs, last) => worker.nextLogits(inputs, last),
        signal: writing.signal,
        onToken: (generated) => {
          this.view.showSample(prompt, generated);
          this.view.writing(generated.length, count, loaded);
        },
      });
      this.view.written(loaded, temperature, count);
    } catch (error) {
      if (writing.signal.aborted) return; // the viewer's new request writes next
      this.view.failed(`The model could not write: ${messageOf(error)}`);
    } finally {
      if (this.writing === writing) this.writing = null;
    }
  }
}
