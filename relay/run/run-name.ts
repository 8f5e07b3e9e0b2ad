// The run's name when the operator gave none: the default Brown Corpus run keeps DEFAULT_RUN's
// "brown-gpt", and a run on one's own text is named after it (issue 17: a run on
// `--dataset ~/novels` called "brown-gpt" tells the volunteers something untrue). A mixture
// (protocol/data-mixture.ts) is named after its first dataset, marked as a mix. The name
// must pass run-config.ts's rule, /^[a-z0-9][a-z0-9-]{0,39}$/, so the folder's name is folded
// into that alphabet.
import type { DatasetChoice } from '../../protocol/data-mixture.ts';
import { DEFAULT_RUN } from '../../protocol/run-config.ts';

const SUFFIX = '-gpt';
const MIX_SUFFIX = '-mix-gpt';
/** run-config.ts caps a name at 40 characters. */
const MAX_NAME_LENGTH = 40;
/** A stem with nothing left after folding (a folder called "…" or "__"). */
const FALLBACK_STEM = 'custom';

/** The name of a run that trains on `dataset` ("brown", a prepared folder's path, or a mixture). */
export function runNameFor(dataset: DatasetChoice): string {
  if (dataset === DEFAULT_RUN.dataset) return DEFAULT_RUN.name;
  if (typeof dataset === 'string') return `${stemOf(dataset, MAX_NAME_LENGTH - SUFFIX.length)}${SUFFIX}`;
  const [first] = dataset;
  return `${stemOf(first?.dataset ?? '', MAX_NAME_LENGTH - MIX_SUFFIX.length)}${MIX_SUFFIX}`;
}

function stemOf(dataset: string, maxLength: number): string {
  // The last path segment, by hand: resolveRunConfig (and so this) also runs in the browser tests.
  const stem = (
    dataset
      .replace(/[/\\]+$/, '')
      .split(/[/\\]/)
      .pop() ?? ''
  )
    .replace(/\.[^.]*$/, '') // a file's extension says nothing about its text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, maxLength)
    .replace(/^-+|-+$/g, '');
  return stem || FALLBACK_STEM;
}
