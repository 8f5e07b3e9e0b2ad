// The newest head a browser has seen, and the warnings when a relay's head goes backwards or
// forks: properties over random head sequences, and the stored head surviving hostile input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareHeads,
  describeHeadVerdict,
  HeadWatch,
  type SeenHead,
} from '../../../web/src/peer/head-watch.ts';

const hash = (n: number) => n.toString(16).padStart(64, '0');

function memoryStore(initial: unknown = undefined) {
  let kept: unknown = initial;
  return {
    load: async () => kept,
    save: async (head: SeenHead) => {
      kept = head;
    },
    get kept() {
      return kept;
    },
  };
}

describe('head watch', () => {
  it('keeps the highest head of an honest chain and never warns', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(1000), { minLength: 1, maxLength: 30 }), async (heights) => {
        // An honest relay: the hash at a height is a function of the height.
        const store = memoryStore();
        const watch = new HeadWatch(store, async (h) => hash(h));
        const sorted = [...heights].sort((a, b) => a - b);
        for (const height of sorted) {
          const verdict = await watch.observe({ height, hash: hash(height) });
          expect(describeHeadVerdict(verdict)).toBeNull();
        }
        const top = sorted.at(-1) as number;
        expect(store.kept).toEqual({ height: top, hash: hash(top) });
      }),
    );
  });

  it('warns when the head goes backwards and keeps the newer one seen', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(1000), fc.integer({ min: 1, max: 1000 }), async (low, gap) => {
        const store = memoryStore({ height: low + gap, hash: hash(low + gap) });
        const verdict = await new HeadWatch(store).observe({ height: low, hash: hash(low) });
        expect(verdict.kind).toBe('backwards');
        expect(describeHeadVerdict(verdict)).toMatch(/went backwards/);
        expect(store.kept).toEqual({ height: low + gap, hash: hash(low + gap) });
      }),
    );
  });

  it('warns on a fork at the same height, and when the seen head is not on the served chain', async () => {
    expect(compareHeads({ height: 5, hash: hash(1) }, { height: 5, hash: hash(2) }).kind).toBe('fork');
    const store = memoryStore({ height: 5, hash: hash(5) });
    // The relay rewrote history below its new head: height 5 now holds another hash.
    const verdict = await new HeadWatch(store, async () => hash(999)).observe({ height: 9, hash: hash(9) });
    expect(verdict.kind).toBe('fork');
    expect(describeHeadVerdict(verdict)).toMatch(/forked/);
    expect(store.kept).toEqual({ height: 5, hash: hash(5) });
  });

  it('treats a garbled stored head as none and ignores a garbled served one, never throwing', async () => {
    for (const stored of [null, 'x', { height: -1, hash: hash(1) }, { height: 1, hash: 'nothex' }, []]) {
      const store = memoryStore(stored);
      expect((await new HeadWatch(store).observe({ height: 3, hash: hash(3) })).kind).toBe('first');
    }
    const store = memoryStore({ height: 3, hash: hash(3) });
    for (const served of [null, 7, { height: 2 }, { height: 1.5, hash: hash(1) }]) {
      expect((await new HeadWatch(store).observe(served)).kind).toBe('same');
    }
    expect(store.kept).toEqual({ height: 3, hash: hash(3) });
  });
});
