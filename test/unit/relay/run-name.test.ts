// Issue 17: `npm start -- --dataset PATH` named every run "brown-gpt", whatever it trained on.
// A run without a `name` is named after its dataset; the Brown Corpus keeps "brown-gpt" and a
// name the operator gave wins.
import { describe, expect, it } from 'vitest';
import { checkRunConfig, DEFAULT_RUN, runIdentity } from '../../../protocol/run-config.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';
import { runNameFor } from '../../../relay/run/run-name.ts';

function nameOf(input: Record<string, unknown>): string {
  const resolved = resolveRunConfig(input);
  if (!resolved.ok) throw new Error(resolved.message);
  return resolved.config.name;
}

describe('runNameFor', () => {
  it('keeps brown-gpt for the Brown Corpus', () => {
    expect(runNameFor('brown')).toBe('brown-gpt');
  });

  it("names a prepared folder's run after the folder", () => {
    expect(runNameFor('/home/ada/state/data/my-novels')).toBe('my-novels-gpt');
    expect(runNameFor('data/Shakespeare_Sonnets/')).toBe('shakespeare-sonnets-gpt');
    expect(runNameFor('/home/ada/tiny.txt')).toBe('tiny-gpt');
  });

  it('always gives a name the run config accepts', () => {
    for (const dataset of ['/x/…', '/x/__', 'a'.repeat(300), '/x/-lead-', '/x/9lives', 'ÄÖÜ'])
      expect(checkRunConfig({ ...DEFAULT_RUN, name: runNameFor(dataset) }).ok, dataset).toBe(true);
  });
});

describe('resolveRunConfig', () => {
  it('names a run on your own text after it, not brown-gpt', async () => {
    expect(nameOf({ dataset: '/tmp/state/data/my-novels' })).toBe('my-novels-gpt');
    const resolved = resolveRunConfig({ dataset: '/tmp/state/data/my-novels' });
    if (!resolved.ok) throw new Error(resolved.message);
    expect((await runIdentity(resolved.config)).runId).toMatch(/^my-novels-gpt-[0-9a-f]{8}$/);
  });

  it('keeps brown-gpt for the default run', () => {
    expect(nameOf({})).toBe('brown-gpt');
    expect(nameOf({ dataset: 'brown' })).toBe('brown-gpt');
  });

  it("keeps the name the operator's config gives", () => {
    expect(nameOf({ name: 'sonnets', dataset: '/tmp/my-novels' })).toBe('sonnets');
  });
});
