// The "What the model writes now" panel's elements (leaderboard.html): the prompt and
// temperature the viewer chose, the sample with the prompt set apart from what the model wrote,
// and one status line saying which weights wrote it or why nothing could be written.
import { byteTokenizer } from '../../../protocol/tokenizer.ts';
import { shortHash } from './format.ts';
import { printable } from './printable-text.ts';
import { MAX_TEMPERATURE } from './sampling.ts';

/** What the panel is doing; the panel's data-state, which tests and styles read. */
export type SampleState = 'waiting' | 'writing' | 'written' | 'failed' | 'unsupported';

/** The checkpoint a sample came from. */
export interface SampleSource {
  readonly round: number;
  readonly modelHash: string;
}

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** "the weights after round 5", or the initial weights for round -1 (nothing committed yet). */
export function weightsName(round: number): string {
  return round < 0 ? 'the initial weights' : `the weights after round ${round}`;
}

function formatTemperature(temperature: number): string {
  return temperature === 0 ? '0 (always the likeliest byte)' : temperature.toFixed(2);
}

export class SampleView {
  private readonly root = byId<HTMLElement>('sample');
  private readonly form = byId<HTMLFormElement>('sample-form');
  private readonly prompt = byId<HTMLTextAreaElement>('sample-prompt');
  private readonly temperature = byId<HTMLInputElement>('sample-temperature');
  private readonly temperatureShown = byId<HTMLOutputElement>('sample-temperature-value');
  private readonly generate = byId<HTMLButtonElement>('sample-generate');
  private readonly text = byId<HTMLElement>('sample-text');
  private readonly shownPrompt = byId<HTMLElement>('sample-shown-prompt');
  private readonly continuation = byId<HTMLElement>('sample-continuation');
  private readonly status = byId<HTMLElement>('sample-status');

  constructor() {
    this.temperature.max = String(MAX_TEMPERATURE);
    const showTemperature = () => {
      this.temperatureShown.value = formatTemperature(this.temperature.valueAsNumber);
    };
    this.temperature.addEventListener('input', showTemperature);
    showTemperature();
  }

  /** Calls `handler` when the viewer asks for a sample (the button, or Ctrl+Enter in the prompt). */
  onGenerate(handler: () => void): void {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      handler();
    });
    this.prompt.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) this.form.requestSubmit();
    });
  }

  /** The prompt and temperature as the controls hold them now. */
  request(): { prompt: string; temperature: number } {
    return { prompt: this.prompt.value, temperature: this.temperature.valueAsNumber };
  }

  /** The sample so far: `prompt` as typed, then the model's bytes as text (never throws on bad UTF-8). */
  showSample(prompt: string, generated: readonly number[]): void {
    this.text.hidden = false;
    this.shownPrompt.textContent = prompt;
    this.continuation.textContent = printable(byteTokenizer.decode(generated));
    // The exact bytes, which the text cannot always show (a lone byte of a UTF-8 sequence).
    this.continuation.dataset.tokens = generated.join(',');
  }

  writing(done: number, total: number, source: SampleSource): void {
    this.set('writing', `Writing… ${done} of ${total} bytes, with ${weightsName(source.round)}.`, source);
  }

  written(source: SampleSource, temperature: number, bytes: number): void {
    const hash = `model hash ${shortHash(source.modelHash)}`;
    const text = `Written by ${weightsName(source.round)} (${hash}), ${bytes} bytes at temperature ${formatTemperature(temperature)}. It writes again when a round commits.`;
    this.set('written', text, source);
  }

  waiting(message: string): void {
    this.set('waiting', message);
  }

  /** Something went wrong with this sample; the rest of the page is not affected. */
  failed(message: string): void {
    this.text.hidden = true;
    this.set('failed', message);
  }

  /** This browser cannot run the model at all: say so once and switch the controls off. */
  unsupported(message: string): void {
    this.text.hidden = true;
    this.generate.disabled = true;
    this.set('unsupported', message);
  }

  private set(state: SampleState, message: string, source?: SampleSource): void {
    if (this.root.dataset.state === 'unsupported') return; // nothing changes that here
    this.root.dataset.state = state;
    this.status.dataset.verdict = state === 'failed' || state === 'unsupported' ? 'bad' : 'none';
    this.status.textContent = message;
    if (source) {
      this.status.title = source.modelHash;
      this.root.dataset.modelHash = source.modelHash;
    } else {
      this.status.removeAttribute('title');
      delete this.root.dataset.modelHash;
    }
  }
}
