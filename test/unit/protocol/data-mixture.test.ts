// The run config's `dataset` (protocol/data-mixture.ts): a name, as every run before had, or a
// weighted mixture. Each rule of a mixture is refused on its own, with the rule in the message,
// and a plain name keeps the run's config hash, so no existing run changes its id.
import { describe, expect, it } from 'vitest';
import {
  MAX_MIXTURE_DATASETS,
  MIN_MIXTURE_SHARE,
  mixtureParts,
  mixtureShares,
  mixtureSpans,
  spanOf,
} from '../../../protocol/data-mixture.ts';
import { checkRunConfig, DEFAULT_RUN, parseRunConfig, runIdentity } from '../../../protocol/run-config.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';
import { runNameFor } from '../../../relay/run/run-name.ts';

function refusal(dataset: unknown): string {
  const checked = checkRunConfig({ ...DEFAULT_RUN, dataset });
  if (checked.ok) throw new Error(`accepted ${JSON.stringify(dataset)}`);
  return checked.message;
}

const NEW_AND_REPLAY = [
  { dataset: 'state/data/brown-k', weight: 0.95 },
  { dataset: 'state/data/brown-a-j', weight: 0.05 },
];

describe('a run config names one dataset or a mixture', () => {
  it('keeps the default run, named by a string, at the config hash it had before mixtures', async () => {
    // DEFAULT_RUN's hash at de38bfe, the commit before `dataset` could be a mixture.
    expect((await runIdentity(DEFAULT_RUN)).configHash).toBe(
      '7ed81fe62bbc43cfe63b3c2a425b2dcce211db0ed04a072199cffce9a93db510',
    );
    expect(mixtureParts('brown')).toEqual([{ dataset: 'brown', weight: 1 }]);
  });

  it('takes a weighted mixture; the shares are the weights over their sum', async () => {
    const config = parseRunConfig({ ...DEFAULT_RUN, dataset: NEW_AND_REPLAY });
    expect(config?.dataset).toEqual(NEW_AND_REPLAY);
    expect(
      mixtureShares([
        { dataset: 'a', weight: 19 },
        { dataset: 'b', weight: 1 },
      ]),
    ).toEqual([0.95, 0.05]);
    // Another mixture is another run.
    const other = parseRunConfig({
      ...DEFAULT_RUN,
      dataset: [NEW_AND_REPLAY[0], { ...NEW_AND_REPLAY[1], weight: 0.1 }],
    });
    if (!config || !other) throw new Error('refused');
    expect((await runIdentity(config)).configHash).not.toBe((await runIdentity(other)).configHash);
  });

  it('refuses each broken rule with its own message', () => {
    expect(refusal([])).toBe('run config dataset: a mixture names at least one dataset');
    const many = Array.from({ length: MAX_MIXTURE_DATASETS + 1 }, (_, i) => ({
      dataset: `d${i}`,
      weight: 1,
    }));
    expect(refusal(many)).toBe(
      `run config dataset: a mixture names at most ${MAX_MIXTURE_DATASETS} datasets`,
    );
    expect(checkRunConfig({ ...DEFAULT_RUN, dataset: many.slice(0, MAX_MIXTURE_DATASETS) }).ok).toBe(true);
    expect(
      refusal([
        { dataset: 'a', weight: 1 },
        { dataset: 'a', weight: 2 },
      ]),
    ).toBe('run config dataset: a mixture names each dataset once');
    for (const weight of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1', null])
      expect(refusal([{ dataset: 'a', weight }]), String(weight)).toMatch(/^run config dataset\.0\.weight: /);
    expect(
      refusal([
        { dataset: 'a', weight: 1e308 },
        { dataset: 'b', weight: 1e308 },
      ]),
    ).toBe('run config dataset: the weights sum past the largest number');
    // A share below one in a thousand is refused; exactly one in a thousand is not.
    expect(
      refusal([
        { dataset: 'a', weight: 1000 },
        { dataset: 'b', weight: 0.9 },
      ]),
    ).toMatch(new RegExp(`share of at least ${MIN_MIXTURE_SHARE}`));
    expect(
      checkRunConfig({
        ...DEFAULT_RUN,
        dataset: [
          { dataset: 'a', weight: 999 },
          { dataset: 'b', weight: 1 },
        ],
      }).ok,
    ).toBe(true);
    expect(refusal([{ dataset: '', weight: 1 }])).toMatch(/^run config dataset\.0\.dataset: /);
    expect(refusal([{ dataset: 'x'.repeat(401), weight: 1 }])).toMatch(/^run config dataset\.0\.dataset: /);
    expect(refusal([{ weight: 1 }])).toMatch(/^run config dataset\.0\.dataset: /);
    expect(refusal('')).toMatch(/^run config dataset: /);
    expect(refusal(7)).toMatch(/^run config dataset: /);
    expect(refusal({ dataset: 'a', weight: 1 })).toMatch(/^run config dataset: /);
  });

  it('never throws on hostile input', () => {
    const proto = JSON.parse('[{"dataset":"a","weight":1,"__proto__":{"polluted":true}}]');
    expect(parseRunConfig({ ...DEFAULT_RUN, dataset: proto })?.dataset).toEqual([
      { dataset: 'a', weight: 1 },
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(parseRunConfig({ ...DEFAULT_RUN, dataset: [[], null, 1] })).toBeNull();
  });

  it('names a mixture run after its first dataset, as a mix', () => {
    expect(runNameFor(NEW_AND_REPLAY)).toBe('brown-k-mix-gpt');
    const resolved = resolveRunConfig({ dataset: NEW_AND_REPLAY });
    expect(resolved.ok && resolved.config.name).toBe('brown-k-mix-gpt');
    const long = [{ dataset: `/x/${'a'.repeat(300)}`, weight: 1 }];
    expect(checkRunConfig({ ...DEFAULT_RUN, name: runNameFor(long) }).ok).toBe(true);
  });

  it('lays the datasets end to end: a range lies in one, or straddles two', () => {
    const spans = mixtureSpans([100, 20, 50]);
    expect(spans).toEqual([
      { start: 0, end: 100 },
      { start: 100, end: 120 },
      { start: 120, end: 170 },
    ]);
    expect(spanOf(spans, 0, 100)).toBe(0);
    expect(spanOf(spans, 100, 101)).toBe(1);
    expect(spanOf(spans, 119, 121)).toBe(-1);
    expect(spanOf(spans, 160, 171)).toBe(-1);
    expect(spanOf(spans, 5, 5)).toBe(-1);
  });
});
