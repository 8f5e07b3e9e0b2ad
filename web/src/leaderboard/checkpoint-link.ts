// The link to the run's latest stored checkpoint (safetensors), with the round and model
// hash it holds so a downloader can check what they got (protocol/model-hash.ts).

import type { RunSummary } from '../../../protocol/run-api.ts';
import { shortHash } from './format.ts';
import { checkpointUrl } from './public-api.ts';

export function showCheckpoint(link: HTMLAnchorElement, about: HTMLElement, run: RunSummary): void {
  const { checkpoint } = run;
  link.hidden = checkpoint === null;
  if (!checkpoint) {
    about.textContent = 'No checkpoint stored yet: one appears after a volunteer uploads committed weights.';
    about.removeAttribute('title');
    return;
  }
  const href = checkpointUrl(run.id);
  if (link.getAttribute('href') !== href) link.href = href;
  // Round -1 is the run's initial weights, stored before any round commits.
  const label =
    checkpoint.round < 0
      ? 'Download the initial weights (safetensors)'
      : `Download the weights after round ${checkpoint.round} (safetensors)`;
  if (link.textContent !== label) link.textContent = label;
  const text = `model hash ${shortHash(checkpoint.modelHash)}`;
  if (about.textContent !== text) about.textContent = text;
  about.title = checkpoint.modelHash;
}
