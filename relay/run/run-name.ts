// The run's name when the operator gave none: the default Brown Corpus run keeps DEFAULT_RUN's
// "brown-gpt", and a run on one's own text is named after it (issue 17: a run on
// `--dataset ~/novels` called "brown-gpt" tells the volunteers something untrue). The name
// must pass run-config.ts's rule, /^[a-z0-9][a-z0-9-]{0,39}$/, so the folder's name is folded
// into that alphabet.
import { basename } from 'node:path';
import { DEFAULT_RUN } from '../../protocol/run-config.ts';

const SUFFIX = '-gpt';
/** run-config.ts caps a name at 40 characters; the suffix takes 4 of them. */
const MAX_STEM_LENGTH = 40 - SUFFIX.length;
/** A stem with nothing left after folding (a folder called "…" or "__"). */
const FALLBACK_STEM = 'custom';

/** The name of a run that trains on `dataset` ("brown" or a prepared folder's path). */
export function runNameFor(dataset: string): string {
  if (dataset === DEFAULT_RUN.dataset) return DEFAULT_RUN.name;
  const stem = basename(dataset.replace(/[/\\]+$/, ''))
    .replace(/\.[^.]*$/, '') // a file's extension says nothing about its text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, MAX_STEM_LENGTH)
    .replace(/^-+|-+$/g, '');
  return `${stem || FALLBACK_STEM}${SUFFIX}`;
}
